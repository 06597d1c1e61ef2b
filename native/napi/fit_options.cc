#include "fit_options.h"

#include "args.h"
#include "convert.h"

namespace resnet_cifar {

FitConfig FitConfigFromJs(const Napi::Value& v) {
  args::Fields o(v, "fit options");
  FitConfig c;
  c.iterations = o.Int("iterations", 0);
  c.batches.batch = o.Int("batchSize", 1);
  c.batches.seed = static_cast<uint64_t>(o.Int("seed", 0));
  c.batches.channels_last = o.Bool("channelsLast");
  if (o.Has("genericBatch")) c.batches.generic = o.Bool("genericBatch");
  if (o.Has("freeze")) {  // absent: nothing frozen
    Napi::Value f = o.Get("freeze");
    if (!f.IsArray()) throw TypeErrorEx(o.Name("freeze") + " must be an array of stage names");
    auto arr = f.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i)
      c.freeze.push_back(args::String(arr.Get(i), o.Name("freeze") + "[" + std::to_string(i) + "]"));
  }
  if (o.Has("lrScale")) {  // absent: every stage at the rate
    args::Fields s(o.Get("lrScale"), o.Name("lrScale"));
    for (const auto& stage : StageNames()) {
      if (s.Has(stage.c_str())) c.lr_scales.emplace_back(stage, s.Number(stage.c_str()));
    }
  }
  if (o.Has("augment")) {  // absent: the paper's pad-4 crop and flips (core's defaults)
    args::Fields a(o.Get("augment"), o.Name("augment"));
    c.batches.pad = a.Int("padCrop", 0, kMaxPad);
    c.batches.flip = a.Bool("flip");
  }
  c.sgd.momentum = o.Number("momentum");
  c.sgd.weight_decay = o.Number("weightDecay");
  c.schedule.lr = o.Number("lr");
  c.schedule.milestones = o.Ints("milestones", 0, kMaxSafeInteger);
  c.schedule.gamma = o.Number("gamma");
  if (o.Has("warmup")) {  // absent: no warm-up (core's defaults: warmup_lr 0, no iterations, no error bound)
    args::Fields w(o.Get("warmup"), o.Name("warmup"));
    c.schedule.warmup_lr = w.Number("lr");
    if (w.Has("iterations")) c.schedule.warmup_iterations = w.Int("iterations", 1);
    if (w.Has("untilError")) c.schedule.warmup_until_error = w.Number("untilError");
  }
  c.report_every = o.Int("reportEvery", 1);
  // Absent: no evaluation during the fit, no checkpoint, no resume (core's defaults).
  if (o.Has("evalEvery")) c.eval_every = o.Int("evalEvery", 1);
  c.eval_batch = o.Int("evalBatchSize", 1);
  if (o.Has("checkpointPath")) c.checkpoint_path = o.String("checkpointPath");
  if (o.Has("checkpointEvery")) c.checkpoint_every = o.Int("checkpointEvery", 1);
  if (o.Has("resume")) c.resume = o.Bool("resume");
  if (o.Has("fusedBatchNorm")) c.fused_bn = o.Bool("fusedBatchNorm");
  if (o.Has("cudaGraphs")) c.cuda_graphs = o.Bool("cudaGraphs");
  if (o.Has("stepOnly")) c.step_only = o.Bool("stepOnly");
  if (o.Has("precision")) c.precision = ParsePrecision(o.String("precision"));
  Napi::Value norm = o.Get("normalization");
  if (norm.IsString()) {
    c.normalization_kind = ParseNormKind(norm.As<Napi::String>().Utf8Value());
  } else {
    c.normalization = NormalizationFromJs(norm, o.Name("normalization"));
    c.normalization_kind = c.normalization->kind;
  }
  c.meta = ToMeta(o.Get("meta"), o.Name("meta"));
  if (o.Has("distributed")) {
    args::Fields d(o.Get("distributed"), o.Name("distributed"));
    DistributedOptions dist;
    dist.world_size = d.Int("worldSize", 1, 65536);
    dist.rank = d.Int("rank", 0, dist.world_size - 1);
    dist.master_addr = d.String("masterAddr");
    dist.master_port = d.Int("masterPort", 1, 65535);
    dist.agent_store = d.Bool("agentStore");
    dist.timeout_ms = d.Int("timeoutMs", 1, 86400000);
    dist.sync_batch_norm = d.Bool("syncBatchNorm");
    c.distributed = dist;
    c.batches.rank = dist.rank;
    c.batches.world_size = dist.world_size;
  }
  return c;
}

}  // namespace resnet_cifar
