// An evaluation's result (error, loss, per-class errors, confusion matrix), from the addon's flat numbers.
import type { NativeEvaluation } from '../base/native';

/** A network evaluated on a dataset: error, loss, per-class errors and the confusion matrix. */
export interface Evaluation {
  /** Top-1 error in percent. */
  error: number;
  /** Mean cross-entropy. */
  loss: number;
  /** Images evaluated. */
  count: number;
  /** Each class's images and top-1 error (%), in the dataset's class order. */
  perClass: { name: string; count: number; error: number }[];
  /** confusion[true][predicted]. */
  confusion: number[][];
}

/** The native evaluation with class names (error %, loss and per-class errors are computed natively). */
export function summarizeEvaluation(r: NativeEvaluation, classNames: readonly string[]): Evaluation {
  const classes = classNames.length;
  return {
    error: r.error,
    loss: r.loss,
    count: r.count,
    perClass: classNames.map((name, i) => ({ name, count: r.classCounts[i], error: r.classErrors[i] })),
    confusion: Array.from({ length: classes }, (_, i) => r.confusion.slice(i * classes, (i + 1) * classes)),
  };
}

/** One image's classes by probability (softmax of its logits), the `top` most likely first. */
export function rankedClasses(logits: ArrayLike<number>, classNames: readonly string[], top: number): { class: string; probability: number }[] {
  const row = Array.from(logits);
  const mx = Math.max(...row);
  const ex = row.map((x) => Math.exp(x - mx));
  const sum = ex.reduce((a, b) => a + b, 0);
  return ex.map((e, j) => ({ class: classNames[j] ?? String(j), probability: e / sum }))
    .sort((a, b) => b.probability - a.probability).slice(0, top);
}
