import DuoEngine
print("duoscope")
