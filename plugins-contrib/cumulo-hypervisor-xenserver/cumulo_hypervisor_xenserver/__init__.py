"""The XenServer hypervisor: instances as XAPI VMs on one pool, reached through the XenAPI.

Modules: :mod:`.opts` (the ``[xenserver]`` options), :mod:`.session` (login,
calls, tasks, the HTTP import/export handlers, XAPI failures as driver errors),
:mod:`.disks` (image import, the per-image base VDI cache, VDI export),
:mod:`.vm` (VM records from flavors, VBDs and VIFs), :mod:`.configdrive`
(the OpenStack config drive), :mod:`.host` (host resources), :mod:`.events`
(power-state changes from the event stream) and :mod:`.driver`
(:class:`~.driver.XenServerDriver`, the lifecycle).
"""
