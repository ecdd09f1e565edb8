#!/bin/sh
# podboot stage 2 (busybox init's sysinit): kernel filesystems, cgroup v2, hostname, network,
# boot codes, the data disk, SSH, the baked-in images, restarted containers, bootlocal.sh, then
# the banner. Ends by printing "podboot: ready".
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "podboot: $*"; }
# Where the boot's time goes: each phase's end, in seconds of uptime (podboot-status --times).
# (The shell reads it itself, as mounted() reads /proc/mounts: every process started costs ~5 ms
# under emulation.)
mark() {
	read -r up _ </proc/uptime
	echo "$up $1" >>/run/podboot/boot-times
}
# Stage 1 hands over /proc, /sys, /dev and /run already mounted; mount them when it did not.
mounted() {
	[ -r /proc/mounts ] || return 1
	while read -r _ dir _; do [ "$dir" = "$1" ] && return 0; done </proc/mounts
	return 1
}
mounted /proc || mount -t proc proc /proc
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
mounted /run || mount -t tmpfs -o mode=0755,nosuid,nodev run /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmp /tmp
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
# The system log, in a RAM ring buffer read with `logread`. Without a syslogd, programs that log
# (login, dropbear) write straight onto the console, into whatever is being typed there.
mkdir -p /run/podboot
mark "stage 2 started"
syslogd -C256
# The ACPI power button (QEMU's system_powerdown, `podboot machine stop`, a host shutting its VMs
# down) runs /etc/acpi/PWRF/00000080: a clean poweroff.
acpid -l /run/podboot/acpid.log -p /run/acpid.pid
# What udev would open to every user: pasta (rootless networking) and fuse-overlayfs need them.
chmod 0666 /dev/net/tun /dev/fuse 2>/dev/null

# cgroup v2 only, with every controller handed down to children (podman's cgroupfs manager
# creates the container cgroups below the root).
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
read -r controllers </sys/fs/cgroup/cgroup.controllers
for controller in $controllers; do
	echo "+$controller" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
		say "cgroup controller $controller could not be enabled"
done
# The system's processes live in /init, a cgroup every user can read: rootless podman reads its
# own cgroup's controllers (podman would otherwise make /init itself, readable by root only).
mkdir -p /sys/fs/cgroup/init
# shellcheck disable=SC2013 # a list of numbers (all read before any moves)
for pid in $(cat /sys/fs/cgroup/cgroup.procs); do
	echo "$pid" >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null
done
# Mount events propagate into the mount namespaces rootless containers make.
mount --make-rshared /

mark "cgroups"
hostname -F /etc/hostname
ip link set lo up
# DHCP on every Ethernet device (type 1: not loopback, and not tunnels such as sit0, where no
# server answers), in the background while the boot goes on; addresses are awaited further down.
for path in /sys/class/net/*; do
	type=""
	read -r type <"$path/type"
	[ "$type" = 1 ] || continue
	interface=${path##*/}
	ip link set "$interface" up
	udhcpc -i "$interface" -b -t 4 -T 2 -A 10 -S -s /usr/lib/podboot/udhcpc.script >/dev/null 2>&1 &
done

# Boot codes, then the data disk: containers, images, SSH keys and /home persist on it. Without
# one, container storage is a tmpfs (a real filesystem: overlay cannot stack on the overlay root).
# shellcheck source=bootcodes
. /usr/lib/podboot/bootcodes
mkdir -p /run/podboot /var/lib/containers /var/lib/podboot /home/podboot /var/tmp
chmod 1777 /tmp /var/tmp
# shellcheck source=persist
. /usr/lib/podboot/persist
mark "boot codes"
if ! persist; then
	mount -t tmpfs -o mode=0700 containers /var/lib/containers
	# Rootless podman keeps its images under ~/.local: it needs a real filesystem too.
	cp -a /home/. /run/podboot/home-seed 2>/dev/null
	mount -t tmpfs -o mode=0755 home /home
	cp -a /run/podboot/home-seed/. /home/ 2>/dev/null && rm -rf /run/podboot/home-seed
	mkdir -p /home/podboot
fi
mkdir -p /var/lib/containers/storage /run/containers
chown 1000:1000 /home/podboot
# Rootless podman's runtime directory (there is no logind to make it).
mkdir -p /run/user/1000 && chmod 0700 /run/user/1000 && chown 1000:1000 /run/user/1000
# Rootless podman reads only its own storage.conf: give podboot one naming the baked images'
# store made for it, owned by podboot (on a data disk it stays; one the user wrote is left alone).
rootless_conf=/home/podboot/.config/containers/storage.conf
if [ ! -e "$rootless_conf" ]; then
	mkdir -p "${rootless_conf%/*}"
	printf '%s\n' '# podboot: the baked images (read-only, in the image itself)' '[storage]' 'driver = "overlay"' \
		'[storage.options]' 'additionalimagestores = ["/usr/share/podboot/store-rootless"]' >"$rootless_conf"
	chown -R 1000:1000 /home/podboot/.config
fi

mark "data disk"

# Loadable extensions kept on the data disk (podboot-load): mounted before SSH starts, so whoever
# logs in finds them. One that fails to load says why and the boot goes on.
mkdir -p /var/lib/podboot/extensions
for image in /var/lib/podboot/extensions/*.sqfs; do
	[ -f "$image" ] || continue
	name=${image##*/}
	/usr/lib/podboot/load "${name%.sqfs}" || true
done

# The baked images need no loading: they are a read-only image store in the image itself
# (/usr/share/podboot/store, storage.conf's additionalimagestores).

# podman's API for remote clients (`podman --url ssh://root@HOST/run/podman/podman.sock`): a
# unix socket only root can open, so it is reachable through SSH with an authorized key and from
# nowhere else. podboot.noapi leaves it off. SSH starts only once the socket exists, so a client
# that logs in the moment port 22 opens finds it. podboot-activate returns once the socket
# listens and holds it from the background, starting podman's API service on the first
# connection (it exits after a minute idle, so it takes no memory until used); an image built
# --prebuilt has no podboot-activate, and the service is started at once instead and waited for
# (the wait ends early if podman exits).
if [ -z "$NOAPI" ]; then
	mkdir -p /run/podman
	if [ -x /usr/libexec/podboot/podboot-activate ]; then
		/usr/libexec/podboot/podboot-activate /run/podman/podman.sock \
			podman system service --time=60 >/run/podboot/podman-api.log 2>&1
	else
		podman system service --time=0 unix:///run/podman/podman.sock >/run/podboot/podman-api.log 2>&1 &
		api=$!
		i=0
		while [ ! -S /run/podman/podman.sock ] && kill -0 "$api" 2>/dev/null && [ $i -lt 600 ]; do
			sleep 0.05
			i=$((i + 1))
		done
	fi
	[ -S /run/podman/podman.sock ] || say "podman's API did not start: $(tail -n 1 /run/podboot/podman-api.log)"
	mark "podman's API socket"
fi

# shellcheck source=sshd
. /usr/lib/podboot/sshd
sshd_start
mark "ssh"

# In a VM, the clock follows the host's after the host sleeps or the VM is paused.
# shellcheck source=clock
. /usr/lib/podboot/clock
if [ -z "$NOCLOCKSYNC" ] && in_vm; then
	clock_follow &
fi

# What follows may need the network, and the banner shows the addresses: give DHCP (QEMU's
# answers in a fraction of a second) up to 3 s more when no address has come yet.
i=0
while [ -z "$(ip -4 -o addr show scope global)" ] && [ $i -lt 30 ]; do
	sleep 0.1
	i=$((i + 1))
done

# Containers created with --restart=always come back after a reboot (there are none on a fresh
# container store, and asking podman would cost a second).
if [ -s /var/lib/containers/storage/overlay-containers/containers.json ]; then
	podman start --all --filter restart-policy=always >/dev/null 2>&1
fi

# The user's own hook on the data disk, in the background so it cannot hold up the boot.
if [ -f /var/lib/podboot/bootlocal.sh ]; then
	say "running /var/lib/podboot/bootlocal.sh (output: /run/podboot/bootlocal.log)"
	sh /var/lib/podboot/bootlocal.sh >/run/podboot/bootlocal.log 2>&1 &
fi

# Opt-in services asked for with podboot.enable=, in the background like bootlocal.sh.
for service in $ENABLE; do
	say "starting $service (podboot.enable; output: /run/podboot/enable-$service.log)"
	/usr/lib/podboot/enable "$service" >"/run/podboot/enable-$service.log" 2>&1 &
done

mark "network, restarts, hooks"
/usr/lib/podboot/banner >/etc/motd
cat /etc/motd
read -r up _ </proc/uptime
say "ready (uptime $up s)"
