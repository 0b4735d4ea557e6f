// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "discover.h"
#include "elf_file.h"
#include "exitcodes.h"

static bool process_exists(pid_t pid)
{
	return !kill(pid, 0) || errno == EPERM;
}

static bool is_kernel_thread(pid_t pid)
{
	char path[64], target[PATH_MAX];

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	return readlink(path, target, sizeof(target)) < 0 && errno == ENOENT;
}

static void remember_path(struct mapped_files *m, const struct maps_line *ml)
{
	const char *path = ml->path;
	int i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->files[i].path, path))
			return;
	if (m->n >= MAX_MAPPED_FILES)
		return;
	m->files[m->n].path = strdup(path);
	m->files[m->n].id = ml->id;
	m->files[m->n].start = ml->start;
	m->files[m->n].end = ml->end;
	if (m->files[m->n].path)
		m->n++;
}

int parse_maps_line(char *line, struct maps_line *out)
{
	struct mem_region r;

	if (parse_mem_region(line, &r) || !r.executable || !r.path)
		return 0;
	*out = (struct maps_line){ r.path, r.start, r.end, r.id, r.deleted };
	return 1;
}

/* Executable file mappings of the process, in address order. */
int read_mapped_files(pid_t pid, struct mapped_files *m)
{
	char path[64], line[PATH_MAX + 128];
	struct maps_line ml;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!parse_maps_line(line, &ml))
			continue;
		if (ml.deleted) {
			m->saw_deleted = true;
			snprintf(m->deleted, sizeof(m->deleted), "%s", ml.path);
			continue;
		}
		remember_path(m, &ml);
	}
	fclose(f);
	return 0;
}

void free_mapped_files(struct mapped_files *m)
{
	while (m->n > 0)
		free(m->files[--m->n].path);
}

static bool same_id(const struct stat *st, struct file_id id)
{
	return st->st_ino == id.ino && kernel_dev(major(st->st_dev), minor(st->st_dev)) == id.dev;
}

/*
 * Is path the mapped file? A path under /proc/PID/root must be that file
 * twice: opened inside the root (what mmtrace reads: the target's symlinks
 * stay in its root), and looked up as the kernel will look it up when
 * libbpf attaches a uprobe by this path (after the magic link an absolute
 * symlink restarts at mmtrace's root). A uprobe attach resolves the path
 * once, to an inode, so a path just checked to be the mapped inode probes
 * that inode; a root where the two lookups differ (a symlink planted to
 * leave it) falls through to /proc/PID/map_files, the kernel's own link.
 */
static bool is_file(const char *path, struct file_id id)
{
	struct stat st;
	bool ok;
	int fd;

	if (stat(path, &st) || !same_id(&st, id))
		return false;
	if (strncmp(path, "/proc/", 6))
		return true;
	fd = open_target_file(path);
	if (fd < 0)
		return false;
	ok = !fstat(fd, &st) && same_id(&st, id);
	close(fd);
	return ok;
}

void locate_mapped(pid_t pid, const struct mapped_file *f, char *root, size_t rootlen,
		   char *open, size_t openlen)
{
	char full[PATH_MAX + 64];

	/* mmtrace's own name for it first: it outlives the process, and the
	 * system-wide mode keeps one interpreter file for many processes */
	root[0] = '\0';
	snprintf(open, openlen, "%s", f->path);
	if (is_file(f->path, f->id))
		return;
	snprintf(root, rootlen, "/proc/%d/root", pid);
	snprintf(full, sizeof(full), "%s%s", root, f->path);
	if (is_file(full, f->id))
		return;
	snprintf(full, sizeof(full), "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)f->start,
		 (unsigned long long)f->end);
	if (is_file(full, f->id)) {
		root[0] = '\0';
		snprintf(open, openlen, "%s", full);
	}
	/* else (st_dev is not s_dev on btrfs): the namespace's root, as before */
}

static int open_pidfd(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* A process as long as it is in the loader, re-read this often, at most this long */
#define LOADER_POLL_MS 20
#define LOADER_WAIT_MS 2000

/*
 * Right after exec a dynamically linked interpreter (pyenv's python3.13,
 * which links libpython) maps only itself and the dynamic loader; libpython
 * and libc come when ld.so has run. Such a process is not "not CPython" yet.
 */
static bool in_dynamic_loader(const struct mapped_files *m)
{
	const char *base;
	int i;

	if (m->n > 2)
		return false;
	for (i = 0; i < m->n; i++) {
		base = strrchr(m->files[i].path, '/');
		base = base ? base + 1 : m->files[i].path;
		if (!strncmp(base, "ld-", 3) || !strncmp(base, "ld.so", 5))
			return true;
	}
	return false;
}

/* MMX_OK with t->bin set, MMX_NOT_PYTHON (m read), or an error (err set). */
static int resolve_mappings(pid_t pid, const struct resolve_opts *ro, struct target *t, struct mapped_files *m,
			    char *err, size_t errlen)
{
	int i;

	if (read_mapped_files(pid, m)) {
		snprintf(err, errlen, "cannot read /proc/%d/maps: %s", pid, strerror(errno));
		return errno == ENOENT || errno == ESRCH ? MMX_NO_PROCESS : MMX_NO_PERMISSION;
	}
	for (i = 0; i < m->n && !stop_pending(ro->stop); i++) {
		struct resolve_opts fo = *ro;
		char root[64], open[PATH_MAX];

		locate_mapped(pid, &m->files[i], root, sizeof(root), open, sizeof(open));
		fo.root = root[0] ? root : NULL;
		if (!resolve_python(open, &fo, &t->bin)) {
			/* the maps' name, which procmem matches against the process's maps */
			snprintf(t->bin.path, sizeof(t->bin.path), "%s", m->files[i].path);
			return MMX_OK;
		}
	}
	return MMX_NOT_PYTHON;
}

/* Why no mapping is CPython: MMX_NOT_PYTHON or MMX_BINARY_GONE, err set. */
static int not_python(pid_t pid, const struct target *t, const struct mapped_files *m, char *err, size_t errlen)
{
	if (in_dynamic_loader(m)) {
		snprintf(err, errlen, "process %d (%s) is still in its dynamic loader after %d ms: its libraries, "
			 "libpython among them, are not mapped yet", pid, t->comm, LOADER_WAIT_MS);
		return MMX_NOT_PYTHON;
	}
	if (m->saw_deleted) {
		snprintf(err, errlen,
			 "process %d (%s) maps a deleted file %s; mmtrace needs the interpreter file on disk",
			 pid, t->comm, m->deleted);
		return MMX_BINARY_GONE;
	}
	snprintf(err, errlen, "process %d (%s) is not a CPython process: none of its %d executable "
		 "mappings defines _PyRuntime and Py_GetVersion", pid, t->comm, m->n);
	return MMX_NOT_PYTHON;
}

static int find_interpreter(pid_t pid, const struct resolve_opts *ro, struct target *t,
			    char *err, size_t errlen)
{
	const struct timespec poll_gap = { 0, LOADER_POLL_MS * 1000000L };
	struct mapped_files m = { 0 };
	int waited, rc;

	for (waited = 0;; waited += LOADER_POLL_MS) {
		rc = resolve_mappings(pid, ro, t, &m, err, errlen);
		if (rc != MMX_NOT_PYTHON || !in_dynamic_loader(&m) || waited >= LOADER_WAIT_MS ||
		    stop_pending(ro->stop))
			break;
		free_mapped_files(&m);
		m.saw_deleted = false;
		nanosleep(&poll_gap, NULL);	/* a signal ends it early */
	}
	if (rc == MMX_NOT_PYTHON)
		rc = not_python(pid, t, &m, err, errlen);
	free_mapped_files(&m);
	return rc;
}

int discover_pid(pid_t pid, const struct resolve_opts *ro_in, struct target *t, char *err, size_t errlen)
{
	struct resolve_opts ro = *ro_in;
	char root[64];
	int rc;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->pidfd = -1;
	if (pid <= 0 || !process_exists(pid)) {
		snprintf(err, errlen, "no process with PID %d", pid);
		return MMX_NO_PROCESS;
	}
	read_comm(pid, t->comm, sizeof(t->comm));
	if (is_kernel_thread(pid)) {
		snprintf(err, errlen, "PID %d (%s) is a kernel thread, not a CPython process", pid, t->comm);
		return MMX_NOT_PYTHON;
	}
	/* its own debug files (a container image with -dbg) are under its root */
	process_root(pid, root, sizeof(root));
	ro.debug_root = root[0] ? root : NULL;
	rc = find_interpreter(pid, &ro, t, err, errlen);
	if (rc)
		return rc;
	t->pidfd = open_pidfd(pid);
	return MMX_OK;
}

/* Searches PATH like execvp, without running anything. */
static int search_path(const char *cmd, char *out, size_t outlen)
{
	const char *path = getenv("PATH");
	char *dirs, *dir, *save = NULL;
	int found = -ENOENT;

	if (strchr(cmd, '/')) {
		snprintf(out, outlen, "%s", cmd);
		return access(out, X_OK) ? -errno : 0;
	}
	dirs = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	if (!dirs)
		return -ENOMEM;
	for (dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(out, outlen, "%s/%s", *dir ? dir : ".", cmd);
		if (!access(out, X_OK)) {
			found = 0;
			break;
		}
	}
	free(dirs);
	return found;
}

const char *parse_shebang(char *line, bool *via_env)
{
	char *prog, *save = NULL;

	if (strncmp(line, "#!", 2))
		return NULL;
	prog = strtok_r(line + 2, " \t\r\n", &save);
	*via_env = prog && !strcmp(basename(prog), "env");
	if (!*via_env)
		return prog;
	prog = strtok_r(NULL, " \t\r\n", &save);
	while (prog && prog[0] == '-')
		prog = strtok_r(NULL, " \t\r\n", &save);
	return prog;
}

/* "#!/usr/bin/env python3 -u" -> python3 resolved on PATH; "#!/x/python" -> /x/python */
static int follow_shebang(const char *file, char *out, size_t outlen)
{
	char line[PATH_MAX];
	FILE *f = fopen(file, "re");
	const char *prog;
	bool via_env, ok;

	if (!f)
		return -errno;
	ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	prog = ok ? parse_shebang(line, &via_env) : NULL;
	if (!prog)
		return -ENOEXEC;
	if (via_env)
		return search_path(prog, out, outlen);
	snprintf(out, outlen, "%s", prog);
	return 0;
}

struct lib_search {
	const char *origin;
	const struct resolve_opts *ro;
	struct python_binary *pb;
	char rpath[PATH_MAX];
	bool runpath;		/* DT_RUNPATH: searched after LD_LIBRARY_PATH */
};

static int try_lib_dirs(const char *dirs, const char *lib, struct lib_search *s)
{
	char buf[PATH_MAX], path[PATH_MAX], *dir, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", dirs);
	for (dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if (!strncmp(dir, "$ORIGIN", 7))
			snprintf(path, sizeof(path), "%s%s/%s", s->origin, dir + 7, lib);
		else
			snprintf(path, sizeof(path), "%s/%s", dir, lib);
		/* no access() first: it would follow the target's symlinks on
		 * the host; resolve_python opens inside the root, or fails */
		if (!resolve_python(path, s->ro, s->pb))
			return 1;
	}
	return 0;
}

/* The loader's order, minus ld.so.cache: DT_RPATH (only without a
 * DT_RUNPATH), LD_LIBRARY_PATH, DT_RUNPATH, the system dirs. The command
 * inherits mmtrace's environment, so its LD_LIBRARY_PATH is this one. */
static int take_needed(const char *lib, void *arg)
{
	struct lib_search *s = arg;
	const char *env = getenv("LD_LIBRARY_PATH");

	if (strchr(lib, '/'))
		return !resolve_python(lib, s->ro, s->pb);
	return (s->rpath[0] && !s->runpath && try_lib_dirs(s->rpath, lib, s)) ||
	       (env && try_lib_dirs(env, lib, s)) ||
	       (s->rpath[0] && s->runpath && try_lib_dirs(s->rpath, lib, s)) ||
	       try_lib_dirs("/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:"
			    "/lib:/usr/lib:/usr/local/lib", lib, s);
}

static int take_rpath(const char *value, void *arg)
{
	struct lib_search *s = arg;

	snprintf(s->rpath, sizeof(s->rpath), "%s", value);
	return 1;
}

int linked_libpython(const char *exe, const struct resolve_opts *ro, struct python_binary *pb)
{
	struct lib_search s = { .ro = ro, .pb = pb };
	char real[PATH_MAX], rooted[PATH_MAX], origin[PATH_MAX];
	struct elf_file ef;
	int found;

	/* inside another mount namespace the path is already the kernel's own */
	if (ro->root)
		snprintf(real, sizeof(real), "%s", exe);
	else if (!realpath(exe, real))
		return -ENOEXEC;
	snprintf(rooted, sizeof(rooted), "%s%s", ro->root ? ro->root : "", real);
	if (elf_file_open(&ef, rooted))
		return -ENOEXEC;
	snprintf(origin, sizeof(origin), "%s", real);
	s.origin = dirname(origin);
	s.runpath = elf_for_each_dynstr(&ef, DT_RUNPATH, take_rpath, &s) == 1;
	if (!s.runpath)
		elf_for_each_dynstr(&ef, DT_RPATH, take_rpath, &s);
	found = elf_for_each_dynstr(&ef, DT_NEEDED, take_needed, &s);
	elf_file_close(&ef);
	return found == 1 ? 0 : -ENOEXEC;
}

int discover_command(const char *cmd, const struct resolve_opts *ro, struct target *t,
		     char *exe, size_t exelen, char *err, size_t errlen)
{
	char interp[PATH_MAX];
	const char *probe = exe;
	int rc;

	memset(t, 0, sizeof(*t));
	t->pidfd = -1;
	if (search_path(cmd, exe, exelen)) {
		snprintf(err, errlen, "command not found or not executable: %s", cmd);
		return MMX_CMD_NOT_FOUND;
	}
	if (!follow_shebang(exe, interp, sizeof(interp)))
		probe = interp;
	rc = resolve_python(probe, ro, &t->bin);
	if (rc == -ENOEXEC)
		rc = linked_libpython(probe, ro, &t->bin);
	if (rc) {
		snprintf(err, errlen, "%s is not a CPython interpreter and links no libpython; "
			 "wrapper scripts (pyenv shims, venv launchers) are not followed: pass the interpreter, "
			 "e.g. mmtrace -- /usr/bin/python3.11 app.py", probe);
		return MMX_NOT_PYTHON;
	}
	snprintf(t->comm, sizeof(t->comm), "%.15s", basename(exe));
	return MMX_OK;
}

/* In the child: wait until mmtrace's probes are attached, then become CMD. */
static void run_held(const char *exe, char *const argv[], int gate)
{
	sigset_t none;
	char go;

	/* mmtrace's handlers and its blocked signals are not CMD's: a signal
	 * meant for CMD, sent while it is held, must end it as it would CMD */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* EOF means abort */
	if (read(gate, &go, 1) != 1)
		_exit(MMX_CMD_NOT_FOUND);
	execv(exe, argv);
	fprintf(stderr, "mmtrace: cannot run %s: %s\n", exe, strerror(errno));
	_exit(MMX_CMD_NOT_FOUND);
}

int held_child_spawn(const char *exe, char *const argv[], struct held_child *c)
{
	sigset_t all, old;
	int gate[2], err = 0;

	if (pipe2(gate, O_CLOEXEC))
		return -errno;
	/* no signal reaches the child before it has reset mmtrace's handlers */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	c->pid = fork();
	if (c->pid == 0) {
		close(gate[1]);
		run_held(exe, argv, gate[0]);
	}
	if (c->pid < 0)
		err = -errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(gate[0]);
	if (err) {
		close(gate[1]);
		return err;
	}
	c->gate_fd = gate[1];
	return 0;
}

int held_child_release(struct held_child *c)
{
	int rc = write(c->gate_fd, "g", 1) == 1 ? 0 : -errno;

	close(c->gate_fd);
	c->gate_fd = -1;
	return rc;
}

int held_child_abort(struct held_child *c, int sig)
{
	int status = -1;

	if (c->gate_fd >= 0) {
		if (sig)
			kill(c->pid, sig);
		close(c->gate_fd);
	}
	c->gate_fd = -1;
	if (c->pid > 0 && waitpid(c->pid, &status, 0) == c->pid)
		c->pid = 0;
	return status;
}
