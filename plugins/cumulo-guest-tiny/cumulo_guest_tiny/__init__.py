"""The tiny guest: a CirrOS-like image built from Debian packages only (``cumulo image build-tiny``).

``build`` assembles it, ``cpio`` and ``kernel`` are the pure pieces (initramfs
writer, vmlinux extraction and module selection), ``debs`` fetches and unpacks
the Debian packages, ``upload`` puts the result in the Image service, and the
guest's own scripts live in ``guest/``.
"""

#: The line the guest prints on its serial console once it is up (then ``<hostname> <address or none>``).
MARKER = "cumulo-tiny: up"
