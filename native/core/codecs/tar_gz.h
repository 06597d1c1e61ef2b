// Chosen members of a .tar.gz read in memory, without extraction to disk (no torch): gzip (one or more members,
// each CRC-32 and length checked) around ustar, with GNU long names and pax paths. The compressed file is mapped,
// not read; nothing is held but the members wanted, each refused from its header when it declares more bytes than
// it may have.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace resnet_cifar {

struct TarMember {
  std::string name;  // its path in the archive, without "./" and empty parts
  std::vector<char> data;
};

struct TarContents {
  std::vector<TarMember> members;  // the wanted ones found, in archive order
  std::vector<std::string> names;  // every regular file's path, for error messages
};

// `wanted`: path (as TarMember::name) -> the most bytes that member may have. A std::runtime_error
// "Cannot read <name> as a .tar.gz archive: ..." otherwise.
TarContents ReadTarGz(const std::string& path, const std::map<std::string, uint64_t>& wanted);
TarContents ReadTarGzBytes(const char* data, size_t size, const std::string& name,
                           const std::map<std::string, uint64_t>& wanted);

}  // namespace resnet_cifar
