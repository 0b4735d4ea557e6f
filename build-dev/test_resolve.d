build-dev/test_resolve: tests/unit/test_resolve.c bpf/alloc.h bpf/gc.h \
 user/dwarf_layout.h user/elf_file.h user/plan.h bpf/gc.h user/resolve.h \
 user/resolve.h
bpf/alloc.h:
bpf/gc.h:
user/dwarf_layout.h:
user/elf_file.h:
user/plan.h:
bpf/gc.h:
user/resolve.h:
user/resolve.h:
