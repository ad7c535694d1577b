"""The filter scheduler: filters remove hosts that cannot take a server, weighers rank the rest."""
