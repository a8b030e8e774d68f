# vm/initramfs/modules.sh - sourced: load_modules LIST, for rc.sysinit and init
# (needs /sys mounted and a stamp function).
# Modules in dependency order (written by vmnet-initramfs). Some may not
# load, as a CPU-specific variant on an emulated CPU: said when verbose.
# Of the virtio transports, only the machine's: PCI (q35), or virtio-mmio
# (microvm, its devices found through ACPI).
present() { for f in "$@"; do [ -e "$f" ] && return 0; done; return 1; }
pci=0 mmio=0
present /sys/bus/pci/devices/* && pci=1
present /sys/bus/platform/devices/LNRO0005:* \
    /sys/bus/platform/devices/virtio-mmio.* && mmio=1
load_modules() {
	[ -f "$1" ] || return 0
	while read -r m; do
		case $m in
		virtio_pci*) [ $pci = 1 ] || continue ;;
		virtio_mmio*) [ $mmio = 1 ] || continue ;;
		esac
		insmod "/lib/modules/$m" 2>/dev/null ||
			stamp "cannot load $m"
	done <"$1"
}
