build-dev/attach.o: user/attach.c bpf/alloc.h bpf/gc.h user/attach.h \
 bpf/gc.h user/plan.h user/resolve.h user/discover.h user/exitcodes.h \
 build-dev/alloc.skel.h build-dev/gc.skel.h
bpf/alloc.h:
bpf/gc.h:
user/attach.h:
bpf/gc.h:
user/plan.h:
user/resolve.h:
user/discover.h:
user/exitcodes.h:
build-dev/alloc.skel.h:
build-dev/gc.skel.h:
