// Poisoning shared memory at the start of a block (see shared_memory.h).
//
// Finding static __shared__ variables: GCC 12 ignores a section attribute on the static
// locals of function templates (most kernels are templates), so they cannot be gathered
// in one section. Instead, once per process, the symbol table (.symtab) of every loaded
// module with thread-local storage is read: a thread-local symbol is an offset into the
// module's TLS block, and each OS thread finds its own block with dl_iterate_phdr
// (dlpi_tls_data). A stripped program has no .symtab: its static shared memory is then
// not poisoned (checked mode says so once on stderr).
//
// Only what the running kernel can touch is poisoned: a function's static locals are
// reachable from that function alone, so once a kernel has been launched, its variables
// are skipped in other kernels' blocks. Variables of functions never launched (device
// helpers declaring __shared__ themselves, kernels not launched yet) are always poisoned.
#include "kernels/sim/shared_memory.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/sim/launch.h"

namespace glia::sim::detail {
namespace {

constexpr const char* kMarker = "glia_sim_shared_mark_";

struct Range {
  size_t module;   // index into Registry::module_ids
  size_t scope;    // index into Registry::scope_function
  size_t offset;   // within the module's TLS block
  size_t size;
};

struct Registry {
  std::vector<size_t> module_ids;          // dlpi_tls_modid of modules with shared variables
  std::vector<uintptr_t> scope_function;   // per function declaring __shared__: its address, 0 if unknown
  std::unique_ptr<std::atomic<bool>[]> launched;  // per scope: that function has run as a kernel
  std::vector<Range> ranges;
  size_t bytes = 0;
  bool missing_symtab = false;  // the program itself has no symbol table
};

// "_ZZ<function>E" of a marker's mangled name, or "" if `name` is no function-local marker.
std::string marker_scope(const char* name) {
  const char* m = std::strstr(name, kMarker);
  if (m == nullptr || std::strncmp(name, "_ZZ", 3) != 0) return {};
  const char* p = m;
  while (p > name && p[-1] >= '0' && p[-1] <= '9') --p;  // the name's length prefix
  return std::string(name, p);
}

// The "_ZZ<function>E" scope among `scopes` that a function-local static's name starts
// with, or scopes.end(): "_ZZ<function>E<length><name>...", trying every "E<digit>".
std::map<std::string, size_t>::const_iterator scope_of(const char* name, const std::map<std::string, size_t>& scopes) {
  if (std::strncmp(name, "_ZZ", 3) != 0) return scopes.end();
  for (const char* e = std::strchr(name, 'E'); e != nullptr; e = std::strchr(e + 1, 'E')) {
    if (e[1] < '0' || e[1] > '9') continue;
    auto it = scopes.find(std::string(name, e + 1));
    if (it != scopes.end()) return it;
  }
  return scopes.end();
}

// Adds the static shared variables of the module at `path` (loaded at `load_base`) to
// `r`. Returns false when the file has no symbol table.
bool read_module(const char* path, uintptr_t load_base, size_t module, Registry& r) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  void* map = fstat(fd, &st) == 0 && st.st_size > 0
                  ? mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0)
                  : MAP_FAILED;
  close(fd);
  if (map == MAP_FAILED) return false;
  const auto* base = static_cast<const unsigned char*>(map);
  const auto size = static_cast<size_t>(st.st_size);
  bool found = false;
  const auto* eh = static_cast<const Elf64_Ehdr*>(map);
  if (size >= sizeof(Elf64_Ehdr) && std::memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
      eh->e_ident[EI_CLASS] == ELFCLASS64 && eh->e_shentsize == sizeof(Elf64_Shdr) &&
      eh->e_shoff + eh->e_shnum * sizeof(Elf64_Shdr) <= size) {
    const auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
    for (unsigned s = 0; s < eh->e_shnum; ++s) {
      if (sh[s].sh_type != SHT_SYMTAB || sh[s].sh_link >= eh->e_shnum) continue;
      const Elf64_Shdr& strtab = sh[sh[s].sh_link];
      if (sh[s].sh_offset + sh[s].sh_size > size || strtab.sh_offset + strtab.sh_size > size) continue;
      found = true;
      const auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sh[s].sh_offset);
      size_t count = sh[s].sh_size / sizeof(Elf64_Sym);
      const char* names = reinterpret_cast<const char*>(base + strtab.sh_offset);
      auto name_of = [&](const Elf64_Sym& sym) { return sym.st_name < strtab.sh_size ? names + sym.st_name : ""; };
      // Pass 1: the functions holding a marker. Pass 2: their thread-local statics, and
      // their code addresses ("_ZZ<function>E" is a local of the function "_Z<function>").
      std::map<std::string, size_t> scopes, functions;
      for (size_t i = 0; i < count; ++i) {
        if (ELF64_ST_TYPE(syms[i].st_info) != STT_TLS) continue;
        std::string scope = marker_scope(name_of(syms[i]));
        if (scope.empty() || scopes.count(scope)) continue;
        size_t index = r.scope_function.size();
        r.scope_function.push_back(0);
        functions["_Z" + scope.substr(3, scope.size() - 4)] = index;
        scopes.emplace(std::move(scope), index);
      }
      for (size_t i = 0; i < count && !scopes.empty(); ++i) {
        const char* name = name_of(syms[i]);
        if (ELF64_ST_TYPE(syms[i].st_info) == STT_FUNC && syms[i].st_value != 0) {
          auto f = functions.find(name);
          if (f != functions.end()) r.scope_function[f->second] = load_base + syms[i].st_value;
          continue;
        }
        if (ELF64_ST_TYPE(syms[i].st_info) != STT_TLS || syms[i].st_size == 0) continue;
        auto it = scope_of(name, scopes);
        if (it == scopes.end()) continue;
        r.ranges.push_back({module, it->second, static_cast<size_t>(syms[i].st_value), static_cast<size_t>(syms[i].st_size)});
        r.bytes += syms[i].st_size;
      }
    }
  }
  munmap(map, size);
  return found;
}

int collect_module(dl_phdr_info* info, size_t, void* arg) {
  auto& registry = *static_cast<Registry*>(arg);
  bool has_tls = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) has_tls |= info->dlpi_phdr[i].p_type == PT_TLS;
  if (!has_tls) return 0;
  bool is_program = info->dlpi_name == nullptr || info->dlpi_name[0] == '\0';
  size_t before = registry.ranges.size();
  bool has_symtab = read_module(is_program ? "/proc/self/exe" : info->dlpi_name, info->dlpi_addr,
                                registry.module_ids.size(), registry);
  if (is_program && !has_symtab) registry.missing_symtab = true;
  if (registry.ranges.size() > before) registry.module_ids.push_back(info->dlpi_tls_modid);
  return 0;
}

Registry& registry() {
  static Registry r = [] {
    Registry out;
    dl_iterate_phdr(&collect_module, &out);
    out.launched.reset(new std::atomic<bool>[out.scope_function.size()]);
    for (size_t i = 0; i < out.scope_function.size(); ++i) out.launched[i] = false;
    return out;
  }();
  return r;
}

// This OS thread's copies of the static shared variables.
struct Span {
  char* p;
  size_t size;
  size_t scope;
};
struct ThreadSpans {
  bool complete = false;  // every module's TLS block was allocated when last looked up
  std::vector<Span> spans;
  const void* last_kernel = nullptr;
};
thread_local ThreadSpans t_spans;

int find_thread_blocks(dl_phdr_info* info, size_t, void* arg) {
  auto& spans = *static_cast<ThreadSpans*>(arg);
  const Registry& r = registry();
  for (size_t m = 0; m < r.module_ids.size(); ++m) {
    if (r.module_ids[m] != info->dlpi_tls_modid) continue;
    if (info->dlpi_tls_data == nullptr) {  // not allocated in this thread yet (dlopen'ed module)
      spans.complete = false;
      continue;
    }
    for (const Range& range : r.ranges) {
      if (range.module == m) spans.spans.push_back({static_cast<char*>(info->dlpi_tls_data) + range.offset, range.size, range.scope});
    }
  }
  return 0;
}

}  // namespace

void poison_bytes(void* p, size_t bytes, uint32_t word) {
  auto* c = static_cast<unsigned char*>(p);
  unsigned char pattern[4];
  std::memcpy(pattern, &word, 4);
  // Byte k of the range gets the byte of `word` that its address's word position holds.
  for (; bytes > 0 && reinterpret_cast<uintptr_t>(c) % 4 != 0; ++c, --bytes) *c = pattern[reinterpret_cast<uintptr_t>(c) % 4];
  uint64_t pair = uint64_t{word} << 32 | word;
  while (bytes >= 8) std::memcpy(c, &pair, 8), c += 8, bytes -= 8;
  for (size_t k = 0; k < bytes; ++k) c[k] = pattern[k % 4];
}

void poison_static_shared(uint32_t word, const void* kernel) {
  Registry& r = registry();
  if (r.missing_symtab && checked()) {
    static std::once_flag warned;
    std::call_once(warned, [] {
      std::fprintf(stderr,
                   "sim: this program has no symbol table (stripped?): static __shared__ memory is not poisoned at "
                   "block start, so reads of shared memory no thread wrote may go unnoticed\n");
    });
  }
  if (r.ranges.empty()) return;
  if (!t_spans.complete) {
    t_spans.spans.clear();
    t_spans.complete = true;
    dl_iterate_phdr(&find_thread_blocks, &t_spans);
  }
  auto address = reinterpret_cast<uintptr_t>(kernel);
  if (kernel != t_spans.last_kernel) {
    t_spans.last_kernel = kernel;
    for (size_t s = 0; s < r.scope_function.size(); ++s) {
      if (r.scope_function[s] == address) r.launched[s].store(true, std::memory_order_relaxed);
    }
  }
  for (const Span& s : t_spans.spans) {
    uintptr_t owner = r.scope_function[s.scope];
    if (owner == address || owner == 0 || !r.launched[s.scope].load(std::memory_order_relaxed)) {
      poison_bytes(s.p, s.size, word);
    }
  }
}

size_t static_shared_bytes() { return registry().bytes; }

}  // namespace glia::sim::detail
