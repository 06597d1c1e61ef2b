// Whole-file reads and crash-safe writes (no torch).
#pragma once

#include <string>
#include <vector>

namespace resnet_cifar {

std::vector<char> ReadFile(const std::string& path);
// A regular file mapped read-only (nothing read into memory); the same errors as ReadFile. Empty files map to
// no bytes.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const char* data() const { return static_cast<const char*>(data_); }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};
// The size of a regular file, read without reading it; the same errors as ReadFile.
uint64_t RegularFileSize(const std::string& path);
// The first `n` bytes (fewer when the file is shorter) and the file's size; the same errors as ReadFile.
std::vector<char> ReadFileHead(const std::string& path, size_t n, uint64_t* size = nullptr);

// Writes to a temporary file beside `path`, fsyncs, renames over `path`: readers see the old or the new file.
void WriteFileAtomic(const std::string& path, const std::vector<char>& bytes);

// Deletes `path.tmp-PID-*` files that a process killed mid-write (PID no longer running) left beside `path`.
void RemoveStaleTemps(const std::string& path);

bool FileExists(const std::string& path);

// `bytes` in a new file of a new private folder (mode 0700 under TMPDIR), for libraries that only open paths;
// both are removed when this goes.
class PrivateCopy {
 public:
  PrivateCopy(const std::vector<char>& bytes, const std::string& suffix);
  ~PrivateCopy();
  PrivateCopy(const PrivateCopy&) = delete;
  PrivateCopy& operator=(const PrivateCopy&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

}  // namespace resnet_cifar
