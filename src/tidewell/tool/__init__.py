"""tool"""
