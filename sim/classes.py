"""The object classes the simulator labels and the detectors learn, in YOLO class-index order.

Kept in a module of its own so perception can share it without importing the simulator.
"""

CLASS_NAMES = ("car", "truck", "bus", "motorcycle", "pedestrian", "traffic_light_red", "traffic_light_yellow",
               "traffic_light_green")
VEHICLE_CLASSES = frozenset(range(4))  # car, truck, bus, motorcycle
PEDESTRIAN_CLASS = 4
LIGHT_CLASSES = {5: "red", 6: "yellow", 7: "green"}

# RGB each class is drawn in by the label and perception overlays
CLASS_COLOURS = {"car": (0, 200, 255), "truck": (255, 140, 0), "bus": (255, 220, 0), "motorcycle": (200, 0, 255),
                 "pedestrian": (255, 40, 120), "traffic_light_red": (255, 0, 0), "traffic_light_yellow": (255, 200, 0),
                 "traffic_light_green": (0, 255, 80)}

# typical footprint (length, width) [m] per class index: the simulator's vehicle and pedestrian sizes.
# A detector reports boxes, not sizes; perception and control use these where a size is needed.
NOMINAL_SIZE_M = {0: (4.5, 1.85), 1: (8.5, 2.5), 2: (11.5, 2.55), 3: (2.1, 0.8), 4: (0.5, 0.5)}
