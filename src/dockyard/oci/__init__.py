"""The OCI and Docker data model: digests, descriptors, manifests, indexes, image configs,
references. Frozen dataclasses with strict JSON in and out (L0: imports only ``errors``)."""
