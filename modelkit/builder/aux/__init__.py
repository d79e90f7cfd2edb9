"""bmtk's older path ``bmtk.builder.aux`` (still imported by some scripts): the same as :mod:`modelkit.builder.auxi`."""
