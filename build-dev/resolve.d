build-dev/resolve.o: user/resolve.c user/elf_file.h user/layout.h \
 user/resolve.h
user/elf_file.h:
user/layout.h:
user/resolve.h:
