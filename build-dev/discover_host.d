build-dev/discover_host.o: user/discover_host.c user/discover_host.h \
 bpf/gc.h user/registry.h user/discover.h user/plan.h user/resolve.h \
 user/parse.h
user/discover_host.h:
bpf/gc.h:
user/registry.h:
user/discover.h:
user/plan.h:
user/resolve.h:
user/parse.h:
