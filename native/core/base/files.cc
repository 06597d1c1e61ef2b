#include "files.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>

namespace resnet_cifar {

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// An open descriptor of a regular file, and its stat; an error naming the path otherwise.
static int OpenRegular(const std::string& path, struct stat* st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("Cannot open " + path + ": " + std::strerror(errno));
  if (::fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    ::close(fd);
    throw std::runtime_error("Cannot read " + path + ": not a regular file");
  }
  return fd;
}

std::vector<char> ReadFile(const std::string& path) {
  struct stat st;
  const int fd = OpenRegular(path, &st);
  std::vector<char> data(static_cast<size_t>(st.st_size));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t r = ::read(fd, data.data() + off, data.size() - off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      std::string err = std::strerror(errno);
      ::close(fd);
      throw std::runtime_error("Cannot read " + path + ": " + err);
    }
    if (r == 0) break;  // shrank while reading
    off += static_cast<size_t>(r);
  }
  ::close(fd);
  data.resize(off);
  return data;
}

MappedFile::MappedFile(const std::string& path) {
  struct stat st;
  const int fd = OpenRegular(path, &st);
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data_ == MAP_FAILED) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      throw std::runtime_error("Cannot read " + path + ": " + err);
    }
    ::madvise(data_, size_, MADV_SEQUENTIAL);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

uint64_t RegularFileSize(const std::string& path) {
  struct stat st;
  ::close(OpenRegular(path, &st));
  return static_cast<uint64_t>(st.st_size);
}

std::vector<char> ReadFileHead(const std::string& path, size_t n, uint64_t* size) {
  struct stat st;
  const int fd = OpenRegular(path, &st);
  if (size) *size = static_cast<uint64_t>(st.st_size);
  std::vector<char> data(n);
  ssize_t r;
  do r = ::read(fd, data.data(), n);
  while (r < 0 && errno == EINTR);
  ::close(fd);
  data.resize(r > 0 ? static_cast<size_t>(r) : 0);
  return data;
}

PrivateCopy::PrivateCopy(const std::vector<char>& bytes, const std::string& suffix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/resnet-cifar-XXXXXX";
  if (!::mkdtemp(templ.data()))
    throw std::runtime_error("Cannot create a private folder under " + templ + ": " + std::strerror(errno));
  dir_ = templ;
  path_ = dir_ + "/file" + suffix;
  try {
    WriteFileAtomic(path_, bytes);
  } catch (...) {
    ::rmdir(dir_.c_str());
    throw;
  }
}

PrivateCopy::~PrivateCopy() {
  ::unlink(path_.c_str());
  ::rmdir(dir_.c_str());
}

void RemoveStaleTemps(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string prefix = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp-";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) ::unlink((dir + "/" + name).c_str());
  }
  ::closedir(d);
}

void WriteFileAtomic(const std::string& path, const std::vector<char>& bytes) {
  std::random_device rd;
  const std::string tmp = path + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(rd());
  // A new file of our own: never one that exists (another's, or a symlink planted under the name), never followed.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("Cannot write " + path + ": " + std::strerror(errno));
  // Fault injection for the crash-safety tests: RESNET_CIFAR_WRITE_DELAY_MS pauses half-way through each write,
  // so that a kill lands inside it.
  static const long delay_ms = [] {
    const char* e = std::getenv("RESNET_CIFAR_WRITE_DELAY_MS");
    return e ? std::strtol(e, nullptr, 10) : 0L;
  }();
  size_t off = 0;
  while (off < bytes.size()) {
    const size_t chunk = delay_ms > 0 && off == 0 ? bytes.size() / 2 : bytes.size() - off;
    if (delay_ms > 0 && off > 0 && off == bytes.size() / 2) ::usleep(static_cast<useconds_t>(delay_ms) * 1000);
    ssize_t w = ::write(fd, bytes.data() + off, chunk);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error("Cannot write " + path + ": " + err);
    }
    off += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error("Cannot write " + path + ": " + err);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error("Cannot write " + path + ": " + err);
  }
  // Make the rename itself durable.
  std::string dir = path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/'));
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace resnet_cifar
