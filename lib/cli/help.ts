// The help text of every command, and the one function that prints it.
import { out } from './output';
import { EVAL_BATCH_SIZE, MILESTONE_FRACTIONS, RECIPE, RUN_CHECKPOINT_EVERY } from '../base/recipe';

const pct = MILESTONE_FRACTIONS.map((f) => `${f * 100} %`).join(', ');

export const HELP: Record<string, string> = {
  main: `resnet-cifar — the CIFAR-10 ResNets of He et al. (2016) on libtorch, from Node.js

Usage: resnet-cifar <command> [options]     (from a checkout: npm run cli -- <command> …)

Commands:
  info        libtorch, CUDA, threads and where data is looked for
  train       train one network, writing a run folder (config, metrics, checkpoint, curves, final result)
  eval        test error, per-class errors and confusion matrix of weights, a TorchScript file or an AOTI package
  predict     class and probability for PNG/JPEG images
  convert     weights from one format to another (our checkpoint, safetensors, the seed's or akamaster's state dict,
              ONNX)
  reproduce   the paper's CIFAR-10 table and Figure 6: every depth × seed (× plain) as its own run

Run 'resnet-cifar <command> --help' for its options. Every command takes --json.`,
  info: `Usage: resnet-cifar info [--data DIR|FILE] [--json]

Prints the libtorch in use (version, path, CUDA), CUDA devices, threads, the addon build and where CIFAR-10 is
looked for (--data, CIFAR10_DIR, the download cache). With --data: that dataset instead, without training (its
kind, image shape, classes and images per class in each split).`,
  train: `Usage: resnet-cifar train [options]

  --depth N              6n+2: 20, 32, 44, 56, 110, … (default 20)
  --shortcut A|B|plain   identity + zero-padding (A, default), 1x1 projections (B) or no shortcuts
  --data DIR|FILE        cifar-10-batches-bin folder or cifar-10-binary.tar.gz (default: CIFAR10_DIR, cache),
                         CIFAR-100's cifar-100-binary folder or .tar.gz (fine labels), a folder of class folders of
                         images (PNG, JPEG, WebP, …; train/ and test/ or val/ inside it, or 10 % of each class held
                         out for testing), or an MNIST-format folder (train-/t10k-images-idx3-ubyte[.gz] and -labels-idx1-ubyte[.gz],
                         as MNIST and Fashion-MNIST ship them; class names from its classes.txt): the network gets
                         the data's channels and classes
  --download             fetch CIFAR-10 into the cache if it is not found
  --size N               image folders: decode to N×N (default 32; centre-cropped to the aspect)
  --grayscale            image folders: decode as grey (a 1-channel network)
  --iterations N         default ${RECIPE.iterations} (the paper)
  --epochs E             or the length in passes over the training set (milestones then in epochs too)
  --milestones a,b       lr ÷10 at these iterations (default ${RECIPE.milestones.join(',')}; scaled with --iterations or --epochs: ${pct})
  --from NAME|FILE       start from a trained network: a shipped one (resnet20, resnet32, resnet56) or a checkpoint or
                         weights file; a new head (seeded) when the data has another number of classes; its depth
                         and shortcut; normalization default: its own statistics when they fit the data
  --freeze backbone|STAGES   with --from: these stages do not train (stem,block1,block2,block3,fc; backbone: all but fc)
  --lr X                 default ${RECIPE.lr}
  --batch-size N         default ${RECIPE.batchSize}
  --seed N               data order, augmentation and initialisation (default ${RECIPE.seed})
  --holdout N            train on the first 50000-N images, evaluate on the last N (the paper's 45k/5k: 5000)
  --normalization pixel|channel|network   per-pixel mean (paper, default) or per-channel mean/std of the data, or
                         the --from network's own
  --precision fp32|tf32|bf16   compute precision (default fp32; bf16: convolutions in bfloat16, float32 weights;
                         tf32, CUDA only: TensorFloat-32 tensor-core rounding inside convolutions)
  --no-cuda-graphs       on CUDA, run every step eagerly instead of replaying it as a CUDA graph
  --warmup-lr X --warmup-iterations N | --warmup-until-error PCT   (ResNet-110: ${RECIPE.warmup.lr} until ${RECIPE.warmup.untilError} % / ~${RECIPE.warmup.iterations} it)
  --eval-every N         evaluate every N iterations (default iterations/20, at least 50) and at the end
  --checkpoint-every N   default ${RUN_CHECKPOINT_EVERY}
  --device auto|cpu|cuda[:i]      default auto
  --out DIR              run folder (default runs/resnet<depth>[-<shortcut>]-seed<seed>)
  --resume               continue the run in --out from its checkpoint
  --json                 one JSON line per event instead of a progress bar / log lines
  --nproc-per-node N     data-parallel: N workers on this machine (the cores split between them; --batch-size is
                         per worker); with --nnodes M --node-rank K --master-addr A --master-port P across machines.
                         Workers started by torchrun (--no-python node …) join through its environment.
  --sync-bn              data-parallel: BatchNorm statistics over every worker's batch together (synchronized BN)

Writes into --out: config.json, metrics.jsonl, checkpoint.pt, curves.svg (redrawn as it goes), final.json,
events.out.tfevents.* (TensorBoard: tensorboard --logdir runs).
Ctrl-C stops after the current iteration with a checkpoint; --resume continues it.`,
  eval: `Usage: resnet-cifar eval (--pretrained NAME | --weights FILE | --torchscript FILE | --exported FILE) [--normalize N]
       [--data …] [--json]

Test error on the 10,000 CIFAR-10 test images, a per-class table and the confusion matrix.
--pretrained takes one of the networks shipped trained with the package ('resnet-cifar info' lists them).
--weights opens our checkpoints and the PyTorch world's state dicts and training checkpoints (the seed's nets.py,
akamaster/pytorch_resnet_cifar10), in torch.save's zip or legacy format or safetensors, reading plain data only.
--torchscript takes a torch.jit.save file, --exported an AOTInductor package (.pt2): both are programs that run
with your rights, so open them only from sources you would run code from.
  --normalize cifar|imagenet|MEAN/STD   how the model's own code normalized pixels/255 (MEAN/STD: a,b,c/d,e,f);
                   default: the checkpoint's stored normalization, else cifar (0.4914, 0.4822, 0.4465 / 0.2470, …)
  --shortcut A|plain   foreign weights without projections: which net they are (default A)
  --batch-size N   default ${EVAL_BATCH_SIZE}        --device auto|cpu|cuda[:i]        --precision fp32|tf32|bf16`,
  predict: `Usage: resnet-cifar predict (--pretrained NAME | --weights FILE | --torchscript FILE | --exported FILE) IMAGE…
       [--top K] [--json]

Class and probability of each PNG/JPEG image (decoded with sharp, resized to 32x32 where needed); --pretrained,
--weights, --normalize and --shortcut as for eval.
  --device auto|cpu|cuda[:i]        --precision fp32|tf32|bf16`,
  convert: `Usage: resnet-cifar convert IN OUT [--to checkpoint|safetensors|state-dict|akamaster|onnx]
                              [--shortcut A|plain] [--input normalized|pixels]

Reads IN as eval's --weights does and writes OUT: our checkpoint (torch.save format), the same in safetensors, a
plain state dict in the seed's layout, akamaster/pytorch_resnet_cifar10's training-checkpoint layout, or an ONNX
graph (for ONNX Runtime in Node or a browser). The format comes from --to, else from OUT's extension
(.safetensors: safetensors; .onnx: ONNX; anything else: our checkpoint).
  --input pixels   ONNX: the graph takes RGB pixels in [0, 1] and normalizes them itself (with IN's normalization,
                   or --normalize's); default 'normalized', images normalized as predict takes them
OUT is written atomically, and only when the whole conversion succeeded.`,
  reproduce: `Usage: resnet-cifar reproduce --out DIR [options]

  --depths 20,32,44,56   depths to train (default 20,32,44,56)
  --seeds N              runs per network (default 5)
  --plain                also train the plain (no shortcut) nets, for Figure 6
  --iterations N         per run (default ${RECIPE.iterations}; milestones at ${pct})
  --workers N            train N runs at a time, each in its own process with the cores split between them
                         (default 1: one run after another in this process)
  --data, --download, --device, --batch-size, --lr, --eval-every, --checkpoint-every, --precision,
  --no-cuda-graphs       as for train

Each (depth, shortcut, seed) trains in its own folder under DIR/runs; finished runs are skipped and interrupted
ones resumed, so the same command continues after Ctrl-C or a crash. With --workers, a run that fails lets the
others finish, starts no new one and is named in the error. Writes DIR/table.md (mean ± std test error
beside the paper's and the seed's) and DIR/figure6.svg (+ .png): plain nets left, ResNets right, thin lines
training error, bold lines test error.`,
};

/** Prints `cmd`'s help ('main': the command list); exit code 0. */
export function help(cmd: string): number {
  out(HELP[cmd]);
  return 0;
}
