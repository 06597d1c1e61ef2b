#include "tar_gz.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "../base/files.h"
#include "../base/limits.h"
#include "gzip.h"

namespace resnet_cifar {
namespace {

constexpr size_t kBlock = 512;

struct TarError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string Normalized(const std::string& path) {
  std::string out;
  size_t i = 0;
  while (i <= path.size()) {
    const size_t j = std::min(path.find('/', i), path.size());
    const std::string part = path.substr(i, j - i);
    if (!part.empty() && part != ".") out += (out.empty() ? "" : "/") + part;
    i = j + 1;
  }
  return out;
}

// The tar stream, fed piece by piece as it inflates.
class TarParser {
 public:
  TarParser(const std::map<std::string, uint64_t>& wanted, TarContents& out) : wanted_(wanted), out_(out) {}

  void Feed(const char* p, size_t n) {
    while (n > 0 && !ended_) {
      if (in_header_) {
        const size_t take = std::min(n, kBlock - header_fill_);
        std::memcpy(header_ + header_fill_, p, take);
        header_fill_ += take;
        p += take;
        n -= take;
        if (header_fill_ == kBlock) Header();
        continue;
      }
      if (remaining_ > 0) {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
        if (keep_) current_data_.insert(current_data_.end(), p, p + take);
        p += take;
        n -= take;
        remaining_ -= take;
        continue;
      }
      if (padding_ > 0) {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(n, padding_));
        p += take;
        n -= take;
        padding_ -= take;
        continue;
      }
      MemberDone();
    }
    if (!ended_ && !in_header_ && remaining_ == 0 && padding_ == 0) MemberDone();
  }

  // After the last byte: an archive may end after a member without its two zero blocks, not inside one.
  void Finish() const {
    if (ended_) return;
    if (!in_header_ || header_fill_ > 0) {
      throw TarError("it ends in the middle of " + (current_.empty() ? std::string("a header") : current_) +
                     " (truncated?)");
    }
  }

 private:
  static uint64_t Octal(const char* f, size_t len) {
    std::string s(f, len);
    s = s.substr(0, s.find('\0'));
    const size_t a = s.find_first_not_of(' '), b = s.find_last_not_of(' ');
    s = a == std::string::npos ? "" : s.substr(a, b - a + 1);
    if (s.empty()) return 0;
    uint64_t v = 0;
    for (const char c : s) {
      if (c < '0' || c > '7') throw TarError("bad tar header field '" + s + "'");
      v = v * 8 + static_cast<uint64_t>(c - '0');  // at most 12 digits: no overflow
    }
    return v;
  }
  static std::string CString(const char* f, size_t len) { return std::string(f, strnlen(f, len)); }

  void Header() {
    header_fill_ = 0;
    if (std::all_of(header_, header_ + kBlock, [](char c) { return c == 0; })) {
      ended_ = true;
      return;
    }
    if (std::memcmp(header_ + 257, "ustar", 5) != 0) throw TarError("not a tar archive (no ustar header)");
    const uint64_t size = Octal(header_ + 124, 12);
    type_ = header_[156] ? header_[156] : '0';
    const std::string prefix = CString(header_ + 345, 155), base = CString(header_ + 0, 100);
    current_ = !pax_name_.empty()    ? pax_name_
               : !long_name_.empty() ? long_name_
               : prefix.empty()      ? base
                                     : prefix + "/" + base;
    if (type_ != 'L' && type_ != 'x' && type_ != 'g') {
      long_name_.clear();
      pax_name_.clear();
    }
    remaining_ = size;
    padding_ = (kBlock - size % kBlock) % kBlock;
    keep_ = false;
    current_data_.clear();
    if (type_ == 'L' || type_ == 'x') {
      if (size > kMaxTarMetaBytes) {
        throw TarError(std::string("a ") + (type_ == 'L' ? "long-name" : "pax") + " header of " + std::to_string(size) +
                       " bytes (at most " + std::to_string(kMaxTarMetaBytes) + " are read)");
      }
      keep_ = true;
    } else if (type_ == '0' || type_ == '7') {
      const std::string name = Normalized(current_);
      out_.names.push_back(current_);
      auto it = wanted_.find(name);
      if (it != wanted_.end()) {
        if (size > it->second) {
          throw TarError(current_ + " declares " + std::to_string(size) + " bytes, more than the " +
                         std::to_string(it->second) + " it may have");
        }
        keep_ = true;
        current_data_.reserve(static_cast<size_t>(size));
      }
    }
    in_header_ = false;
  }

  void MemberDone() {
    if (keep_ && (type_ == '0' || type_ == '7'))
      out_.members.push_back({Normalized(current_), std::move(current_data_)});
    if (keep_ && type_ == 'L') {
      long_name_.assign(current_data_.begin(), current_data_.end());
      long_name_.erase(long_name_.find_last_not_of('\0') + 1);
    }
    if (keep_ && type_ == 'x') {  // records "LEN key=value\n"; the path one names the next member
      const std::string text(current_data_.begin(), current_data_.end());
      for (size_t at = 0; at < text.size();) {
        const size_t nl = text.find('\n', at);
        const std::string rec = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
        const size_t sp = rec.find(' ');
        if (sp != std::string::npos && rec.compare(sp + 1, 5, "path=") == 0) pax_name_ = rec.substr(sp + 6);
        if (nl == std::string::npos) break;
        at = nl + 1;
      }
    }
    current_data_.clear();
    keep_ = false;
    in_header_ = true;
  }

  const std::map<std::string, uint64_t>& wanted_;
  TarContents& out_;
  char header_[kBlock];
  size_t header_fill_ = 0;
  bool in_header_ = true, ended_ = false, keep_ = false;
  char type_ = '0';
  uint64_t remaining_ = 0, padding_ = 0;
  std::string current_, long_name_, pax_name_;
  std::vector<char> current_data_;
};

}  // namespace

TarContents ReadTarGzBytes(const char* data, size_t size, const std::string& name,
                           const std::map<std::string, uint64_t>& wanted) {
  TarContents out;
  try {
    TarParser tar(wanted, out);
    Gunzip(data, size, [&](const char* p, size_t n) { tar.Feed(p, n); });
    tar.Finish();
  } catch (const TarError& e) {
    throw std::runtime_error("Cannot read " + name + " as a .tar.gz archive: " + e.what());
  } catch (const GzipError& e) {
    throw std::runtime_error("Cannot read " + name + " as a .tar.gz archive: " + e.what());
  }
  return out;
}

TarContents ReadTarGz(const std::string& path, const std::map<std::string, uint64_t>& wanted) {
  const MappedFile file(path);
  return ReadTarGzBytes(file.data() ? file.data() : "", file.size(), path, wanted);
}

}  // namespace resnet_cifar
