"""The ring backend's proxy, split like Swift's proxy controllers.

:mod:`.base` owns what every controller shares (rings, signed requests to
storage nodes, node selection, quorum reads and writes, error limiting);
:mod:`.account`, :mod:`.container` and :mod:`.obj` own one resource each, and
:mod:`.putter` one replica's streamed upload. :class:`~cumulo_object_ring.backend.RingBackend`
wires them together.
"""
