"""Layer tars in and out (image-spec layer.md): gzip/zstd, diffIDs, whiteouts, safe extraction.

* :func:`dockyard.archive.apply.apply_layer` reads a layer (plain, gzip or zstd, detected by its
  magic bytes) in one pass and extracts it into a snapshot directory, as an overlayfs upper
  directory (whiteouts become 0:0 devices and opaque xattrs) or over a full copy of the parent
  tree (whiteouts delete); no entry can reach outside the target. It returns the diffID,
  dockerd's size of the layer (:mod:`dockyard.archive.size`) and, on request, the disk usage of
  what it created.
* :func:`dockyard.archive.diff.write_layer` writes the layer tar of an overlay upper directory,
  :func:`dockyard.archive.diff.write_diff` the one between two full trees; both are deterministic
  and return the diffID, the blob digest and the blob size.

Modules: ``compression`` (detection, streaming codecs), ``tarreader`` and ``tarwriter`` (the tar
format), ``paths`` (name cleaning, whiteout names), ``target`` (the checked target directory),
``size`` (dockerd's layer size), ``apply`` and ``diff``. Nothing is imported here, so that
importing the package stays cheap.
"""
