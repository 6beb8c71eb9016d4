"""distributor"""
