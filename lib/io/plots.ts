// Charts drawn by Vega-Lite/Vega (SVG rendered in Node, no browser); PNG by rasterizing that SVG with sharp.
import { writeAtomic } from '../base/files';

// Both are CommonJS builds (vega 5, vega-lite 5); loaded lazily so the core API never pays for them.
function vega(): typeof import('vega') {
  return require('vega');
}
function vegaLite(): typeof import('vega-lite') {
  return require('vega-lite');
}

export interface CurvePoint {
  /** Training iteration. */
  iteration: number;
  /** Error in percent. */
  error: number;
  /** 'train' (thin line) or 'test' (bold line); any other label is drawn bold too. */
  curve: string;
  /** Colour group (e.g. 'ResNet-20'). */
  series?: string;
  /** Panel (e.g. 'plain', 'ResNet'). */
  panel?: string;
}

const CURVE_LABEL = "datum.label == 'train' ? 'training error' : datum.label == 'test' ? 'test error' : datum.label";

/** Vega-Lite spec of error curves: thin training error, bold test error, one colour per series, optional panels. */
export function curvesSpec(points: CurvePoint[], options: { title?: string; panels?: string[]; width?: number } = {}): object {
  const data = points.map((p) => ({ ...p, series: p.series ?? p.curve, bold: p.curve === 'train' ? 'train' : 'test' }));
  const seriesAreCurves = points.every((p) => p.series === undefined);
  // Like the paper's Figure 6, the y axis fits the curves after the first 10 % of training (earlier points clip).
  const last = Math.max(1, ...points.map((p) => p.iteration));
  const later = points.filter((p) => p.iteration >= 0.1 * last).map((p) => p.error);
  const ymax = Math.min(100, 10 * Math.ceil(Math.max(5, ...later) / 10));
  const layer = {
    mark: { type: 'line', interpolate: 'linear', clip: true },
    encoding: {
      x: { field: 'iteration', type: 'quantitative', title: 'iter.', axis: { format: '~s' } },
      y: { field: 'error', type: 'quantitative', title: 'error (%)', scale: { domain: [0, ymax], nice: false } },
      // Legends top right, where the curves (falling error) leave room; one legend when the colours are the curves.
      color: {
        field: 'series', type: 'nominal', title: null,
        legend: { orient: 'top-right', direction: 'vertical', ...(seriesAreCurves ? { labelExpr: CURVE_LABEL } : {}) },
      },
      strokeWidth: {
        field: 'bold', type: 'ordinal', sort: ['train', 'test'], title: null,
        scale: { domain: ['train', 'test'], range: [0.8, 2.4] },
        legend: seriesAreCurves ? null : { orient: 'top-right', labelExpr: CURVE_LABEL },
      },
      detail: { field: 'curve', type: 'nominal' },
      order: { field: 'iteration', type: 'quantitative' },
    },
  };
  const base = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', data: { values: data }, background: 'white' };
  const width = options.width ?? 420;
  if (options.panels) {
    return {
      ...base,
      title: options.title,
      facet: { column: { field: 'panel', type: 'nominal', title: null, sort: options.panels, header: { labelFontSize: 13 } } },
      spec: { width, height: 300, ...layer },
      resolve: { scale: { color: 'shared' } },
    };
  }
  return { ...base, title: options.title, width, height: 300, ...layer };
}

/** Renders a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: object): Promise<string> {
  const vg = vega();
  const logger = vg.logger(vg.Error); // warnings about the spec are ours to fix, not the user's to read
  const compiled = vegaLite().compile(spec as never, { logger } as never).spec;
  const view = new vg.View(vg.parse(compiled), { renderer: 'none', logger } as never);
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}


/** SVG (and PNG beside it when `png`) of the given curves. */
export async function writeCurves(file: string, points: CurvePoint[], options: { title?: string; panels?: string[]; png?: boolean } = {}): Promise<void> {
  const svg = await renderSvg(curvesSpec(points, options));
  writeAtomic(file, svg);
  if (options.png) {
    const sharp = require('sharp') as typeof import('sharp');
    writeAtomic(file.replace(/\.svg$/, '') + '.png', await sharp(Buffer.from(svg), { density: 144 }).png().toBuffer());
  }
}
