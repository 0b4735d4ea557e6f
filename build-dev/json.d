build-dev/json.o: user/json.c user/json.h
user/json.h:
