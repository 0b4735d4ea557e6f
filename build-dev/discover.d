build-dev/discover.o: user/discover.c user/discover.h user/plan.h \
 bpf/gc.h user/resolve.h user/elf_file.h user/exitcodes.h
user/discover.h:
user/plan.h:
bpf/gc.h:
user/resolve.h:
user/elf_file.h:
user/exitcodes.h:
