"""bmtk's builder helper modules at bmtk's paths (``bmtk.builder.auxi`` → ``modelkit.builder.auxi``).

``node_params`` holds the position helpers, ``edge_connectors`` the per-pair connection rules; both are
modelkit's own implementations with bmtk's signatures and random draws.
"""
