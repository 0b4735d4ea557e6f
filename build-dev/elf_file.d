build-dev/elf_file.o: user/elf_file.c user/elf_file.h
user/elf_file.h:
