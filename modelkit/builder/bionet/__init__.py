"""bmtk's ``bmtk.builder.bionet`` helpers for biophysical build scripts (``swc_reader``)."""
