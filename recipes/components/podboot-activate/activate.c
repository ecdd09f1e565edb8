/*
 * podboot-activate SOCKET COMMAND [ARG...]
 *
 * Holds a listening unix socket at SOCKET (mode 0600: root only) and starts COMMAND with it only
 * when the first client connects, by the socket activation protocol podman understands
 * (LISTEN_FDS=1, LISTEN_PID, the socket as file descriptor 3). When the command exits (podman's
 * API service after its idle time), it waits for the next client. So the socket exists from the
 * start of the boot, a client never finds it missing, and the service takes no memory until it
 * is used.
 *
 * It returns (status 0) once the socket listens and goes on holding it in the background, so a
 * boot script that runs it goes on exactly when clients can connect, without polling.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
	fprintf(stderr, "podboot-activate: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int listen_on(const char *path) {
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof addr.sun_path) {
		errno = ENAMETOOLONG;
		die(path);
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) die("socket");
	unlink(path);
	mode_t old = umask(0177);
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die(path);
	umask(old);
	if (listen(fd, 128) < 0) die("listen");
	return fd;
}

/* In the child: the socket as descriptor 3, inheritable, and the variables that announce it. */
static void exec_activated(int fd, char **command) {
	if (fd != 3 && dup2(fd, 3) < 0) _exit(127);
	if (fcntl(3, F_SETFD, 0) < 0) _exit(127);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDNAMES", "podman.sock", 1);
	execvp(command[0], command);
	fprintf(stderr, "podboot-activate: %s: %s\n", command[0], strerror(errno));
	_exit(127);
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: podboot-activate SOCKET COMMAND [ARG...]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int fd = listen_on(argv[1]);
	pid_t holder = fork();
	if (holder < 0) die("fork");
	if (holder > 0) return 0;
	for (;;) {
		struct pollfd ready = {.fd = fd, .events = POLLIN};
		if (poll(&ready, 1, -1) < 0) {
			if (errno == EINTR) continue;
			die("poll");
		}
		pid_t pid = fork();
		if (pid < 0) die("fork");
		if (pid == 0) exec_activated(fd, argv + 2);
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
		}
		/* A command that cannot start at all must not spin: wait a moment before the next try. */
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127) sleep(1);
	}
}
