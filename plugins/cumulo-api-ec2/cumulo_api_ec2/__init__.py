"""The EC2 Query API frontend: AWS's EC2 actions on the kernel's compute, network, image and volume contracts."""
