build-dev/parse.o: user/parse.c user/parse.h
user/parse.h:
