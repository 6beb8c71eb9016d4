"""objstore"""
