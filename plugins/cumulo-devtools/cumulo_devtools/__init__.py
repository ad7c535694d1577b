"""cumulo-devtools: tools for people who write Cumulo plugins, not machinery the cloud runs on."""
