build-dev/plan_exact.o: user/plan_exact.c bpf/alloc.h bpf/gc.h \
 user/plan.h bpf/gc.h user/resolve.h user/stack_layout.h
bpf/alloc.h:
bpf/gc.h:
user/plan.h:
bpf/gc.h:
user/resolve.h:
user/stack_layout.h:
