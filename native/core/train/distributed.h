// Data-parallel training across processes and machines on PyTorch's c10d: a TCPStore for rendezvous (hosted by rank
// 0) and a process group for the collectives: ProcessGroupNCCL between GPUs in CUDA builds that have NCCL's header
// (RESNET_CIFAR_NCCL), else ProcessGroupGloo when c10d's and gloo's headers are found (RESNET_CIFAR_GLOO); with
// neither, Connect says the build has no distributed backend.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace resnet_cifar {

struct DistributedOptions {
  int64_t rank = 0;
  int64_t world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  bool agent_store = false;       // torchrun's agent hosts the TCPStore at master_addr:master_port: every rank connects
  int64_t timeout_ms = 60000;     // a peer silent this long fails every rank's next collective
  bool sync_batch_norm = false;   // train-mode BatchNorm statistics over the global batch (sync_bn.h)
  c10::Device device{c10::kCPU};  // this rank's model: a CUDA device takes NCCL where the build has it
};

// The backends this build has: "gloo", "nccl" (CUDA builds), both or neither.
std::vector<std::string> DistributedBackends();

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;

  // Overwrites `tensors` on every rank with rank 0's.
  virtual void Broadcast(std::vector<at::Tensor>& tensors) = 0;
  // Sums `tensors` over the ranks, in place: flattened into buckets of at most 25 MB (as DistributedDataParallel
  // does), one all-reduce each, copied back.
  virtual void AllReduceSum(std::vector<at::Tensor>& tensors) = 0;
  // Every rank's `fingerprint` must be rank 0's: a std::runtime_error naming the first rank whose differs, and how.
  virtual void CheckSame(const std::string& what, const std::string& fingerprint) = 0;
  // Progress marker for fault reports: the last iteration each rank reached.
  virtual void Heartbeat(int64_t iteration) = 0;
  // A collective failed (a peer died or hung): which ranks stopped advancing, for the error message.
  virtual std::string Suspects() = 0;
};

// Joins the group: rank 0 listens on master_addr:master_port (unless torchrun's agent does), the others connect;
// waits (up to timeout_ms) for all world_size ranks. Errors say what is wrong: the port taken, ranks that never
// came, a build without c10d.
std::unique_ptr<Communicator> Connect(const DistributedOptions& options);

}  // namespace resnet_cifar
