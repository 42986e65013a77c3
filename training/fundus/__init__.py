"""The fundus as both the generator and the real-photograph tools see it: the field's geometry and the camera, the
retina's appearance and vessels, the grading rules over a list of lesions, and a real photograph warped to a field.

Below `synthetic` (which paints with it), `datasets` and `real` (which grade and place real lesions with it).
"""
