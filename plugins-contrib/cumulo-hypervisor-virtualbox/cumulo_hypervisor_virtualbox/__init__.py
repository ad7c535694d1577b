"""The VirtualBox hypervisor driver for Cumulo: instances as VirtualBox machines, driven through ``VBoxManage``."""
