"""The immune point
==================

stub
"""
print(1)
