import RingFormat
print("ringctl")
