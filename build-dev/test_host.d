build-dev/test_host: tests/unit/test_host.c user/collect.h bpf/gc.h \
 user/discover.h user/plan.h user/resolve.h user/discover_host.h \
 user/registry.h user/discover.h user/export.h user/present.h \
 user/collect_exact.h bpf/alloc.h bpf/gc.h user/present_heap.h \
 user/heap.h user/procmem.h user/stacks.h user/symbolize.h \
 user/stack_layout.h user/proctable.h user/heap.h user/heap_run.h \
 user/options.h user/linetable.h user/procmem.h user/proctable.h \
 user/registry.h
user/collect.h:
bpf/gc.h:
user/discover.h:
user/plan.h:
user/resolve.h:
user/discover_host.h:
user/registry.h:
user/discover.h:
user/export.h:
user/present.h:
user/collect_exact.h:
bpf/alloc.h:
bpf/gc.h:
user/present_heap.h:
user/heap.h:
user/procmem.h:
user/stacks.h:
user/symbolize.h:
user/stack_layout.h:
user/proctable.h:
user/heap.h:
user/heap_run.h:
user/options.h:
user/linetable.h:
user/procmem.h:
user/proctable.h:
user/registry.h:
