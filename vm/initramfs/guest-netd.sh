#!/bin/sh
# vm/initramfs/guest-netd.sh - the VM's network service, run by init
#
# Kernel command line: vmnet.name=NAME (checked by host-netd),
# vmnet.log=console (guest-netd's log on the console, else
# /run/guest-netd.log), vmnet.verbose=1.
name= log=/run/guest-netd.log verbose=
for arg in $(cat /proc/cmdline); do
	case $arg in
	vmnet.name=*) name=${arg#vmnet.name=} ;;
	vmnet.log=console) log=/dev/console ;;
	vmnet.verbose=1) verbose=-v ;;
	esac
done
exec /sbin/guest-netd -d $verbose ${name:+--vm-id "$name"} >>"$log" 2>&1
