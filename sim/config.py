"""Configuration of the simulated world, its camera and the gymnasium env.

Frozen dataclasses with defaults; YAML presets in ``configs/`` override fields by name
(see ``common.config``). Each field says its unit. ``__post_init__`` rejects impossible
values with a message that names the field and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from common.config import ConfigError, check_range
from common.vocab import CAMERA_MOUNT, HFOV_RANGE_DEG, MOUNT_HEIGHT_RANGE_M

ScenarioKind = Literal["town", "highway", "townnav", "highwaynav"]


@dataclass(frozen=True)
class CameraConfig:
    """Forward pinhole camera mounted on the ego."""

    width_px: int = 320  # image width; a multiple of 32 (YOLO strides)
    height_px: int = 160  # image height; a multiple of 32
    hfov_deg: float = CAMERA_MOUNT.hfov_deg  # horizontal field of view [deg]
    mount_height_m: float = CAMERA_MOUNT.height_m  # camera height above the road [m]
    mount_forward_m: float = CAMERA_MOUNT.forward_m  # camera ahead of the ego's centre [m]
    pitch_deg: float = CAMERA_MOUNT.pitch_deg  # camera pitch; negative looks down [deg]
    max_range_m: float = 140.0  # nothing farther than this is drawn [m]

    def __post_init__(self) -> None:
        for name in ("width_px", "height_px"):
            value = getattr(self, name)
            if value <= 0 or value % 32 or value > 2048:
                raise ConfigError(f"camera.{name}={value} is not allowed; use a positive multiple of 32 up to 2048")
        check_range("camera.hfov_deg", self.hfov_deg, *HFOV_RANGE_DEG)
        check_range("camera.mount_height_m", self.mount_height_m, *MOUNT_HEIGHT_RANGE_M)
        check_range("camera.mount_forward_m", self.mount_forward_m, -3.0, 3.0)
        check_range("camera.pitch_deg", self.pitch_deg, -30.0, 30.0)
        check_range("camera.max_range_m", self.max_range_m, 20.0, 500.0)


@dataclass(frozen=True)
class RandomizationConfig:
    """Seeded visual randomisation for training data. Off by default (evaluation)."""

    enabled: bool = False  # master switch
    colour_jitter: float = 0.25  # relative spread of object, verge and sky colours
    road_grey: tuple[float, float] = (45.0, 175.0)  # road surface grey level range, dark asphalt .. pale concrete
    brightness: tuple[float, float] = (0.45, 1.25)  # multiplier range; low values look like dusk/night
    night_prob: float = 0.15  # chance of a night scene (dark sky, lit lamps stay bright)
    fog_prob: float = 0.25  # chance of fog in a scene
    fog_range_m: tuple[float, float] = (40.0, 200.0)  # visibility range when foggy [m]
    noise_std: tuple[float, float] = (0.0, 6.0)  # per-pixel Gaussian sensor noise, in 0-255 units
    blur_prob: float = 0.2  # chance of a blurred frame (motion / defocus)
    pose_jitter_deg: float = 1.0  # camera pitch/roll/yaw jitter per frame, std [deg]
    height_jitter_m: float = 0.05  # camera height jitter per scene, std [m]

    def __post_init__(self) -> None:
        lo, hi = self.brightness
        if not 0.05 <= lo <= hi <= 3.0:
            raise ConfigError(f"randomization.brightness={self.brightness} is not allowed; use 0.05 <= low <= high <= 3")
        for name in ("night_prob", "fog_prob", "blur_prob"):
            check_range(f"randomization.{name}", getattr(self, name), 0.0, 1.0)
        check_range("randomization.colour_jitter", self.colour_jitter, 0.0, 1.0)
        if not 0.0 <= self.road_grey[0] <= self.road_grey[1] <= 255.0:
            raise ConfigError(f"randomization.road_grey={self.road_grey} is not allowed; use 0 <= low <= high <= 255")
        check_range("randomization.pose_jitter_deg", self.pose_jitter_deg, 0.0, 10.0)
        check_range("randomization.height_jitter_m", self.height_jitter_m, 0.0, 0.5)
        if not 1.0 <= self.fog_range_m[0] <= self.fog_range_m[1]:
            raise ConfigError(f"randomization.fog_range_m={self.fog_range_m} is not allowed; use 1 <= near <= far")
        if not 0.0 <= self.noise_std[0] <= self.noise_std[1] <= 50.0:
            raise ConfigError(f"randomization.noise_std={self.noise_std} is not allowed; use 0 <= low <= high <= 50")


@dataclass(frozen=True)
class ScenarioConfig:
    """What world to generate from a seed. ``None`` fields take the scenario family's default."""

    kind: ScenarioKind = "town"  # scenario family
    route_length_m: float = 500.0  # ego route from start to goal along the road [m]
    lanes_per_direction: int | None = None  # None: town 1-2, highway 2-3 (sampled per seed)
    lane_width_m: float | None = None  # None: sampled in [3.0, 3.75] [m]
    speed_limit_kmh: float | None = None  # None: town 30-50, highway 80-120 (sampled) [km/h]
    min_curve_radius_m: float | None = None  # None: town 25, highway 250 [m]
    traffic_density_per_km: float | None = None  # vehicles per km per lane; None: town 12, highway 18
    pedestrians_per_km: float | None = None  # None: town 40, highway 0
    parked_cars_per_km: float | None = None  # None: town 20, highway 0
    intersection_spacing_m: tuple[float, float] = (120.0, 220.0)  # town: distance between intersections [m]
    town_grid: int | None = None  # townnav: junctions per side of the street grid; None: sized to the route (4-12)
    # townnav: a right turn may go on a red ball (never a red arrow) after a full stop at the line, yielding to
    # pedestrians on its crosswalks and to traffic with the green (US rule); off: a red holds every movement
    right_on_red: bool = False
    # town / highway: the labels carry a follow-the-lane route block (sim.route_block) for policies that read
    # the route (observation layout v2); the navigation worlds always carry their route's
    route_block: bool = False
    # townnav / highwaynav: a moving vehicle that has stood this long is moved to a free lane out of the ego's sight,
    # as SUMO's time-to-teleport releases gridlocks (sim.roadgraph.gridlock) [s]; 0: never
    gridlock_release_s: float = 90.0
    # townnav / highwaynav: a yielding driver refused at its line this long (red lights between refusals included)
    # no longer waits for a gap in the priority stream: it takes its turn first come, first served, still giving way
    # to the ego. A left turner facing a stream that always had a car in the box stood for minutes, and the gridlock
    # release only moved the next one into its place (training route 242204); drivers accept shorter gaps the longer
    # they wait, as SUMO's ``impatience`` models [s]; 0: never
    yield_patience_s: float = 30.0

    def __post_init__(self) -> None:
        check_range("scenario.route_length_m", self.route_length_m, 50.0, 20000.0)
        if not (self.gridlock_release_s == 0.0 or 10.0 <= self.gridlock_release_s <= 3600.0):
            raise ConfigError(f"scenario.gridlock_release_s={self.gridlock_release_s!r} is out of range; "
                              "allowed: 0 (never) or [10, 3600]")
        if not (self.yield_patience_s == 0.0 or 5.0 <= self.yield_patience_s <= 3600.0):
            raise ConfigError(f"scenario.yield_patience_s={self.yield_patience_s!r} is out of range; "
                              "allowed: 0 (never) or [5, 3600]")
        if self.lanes_per_direction is not None and not 1 <= self.lanes_per_direction <= 3:
            raise ConfigError(f"scenario.lanes_per_direction={self.lanes_per_direction} is not allowed; use 1, 2 or 3")
        if self.lane_width_m is not None:
            check_range("scenario.lane_width_m", self.lane_width_m, 2.5, 4.5)
        if self.speed_limit_kmh is not None:
            check_range("scenario.speed_limit_kmh", self.speed_limit_kmh, 10.0, 150.0)
        if self.min_curve_radius_m is not None:
            check_range("scenario.min_curve_radius_m", self.min_curve_radius_m, 20.0, 5000.0)
        for name in ("traffic_density_per_km", "pedestrians_per_km", "parked_cars_per_km"):
            value = getattr(self, name)
            if value is not None:
                check_range(f"scenario.{name}", value, 0.0, 200.0)
        if self.town_grid is not None and not 3 <= self.town_grid <= 12:  # as sim.roadgraph.generator draws
            raise ConfigError(f"scenario.town_grid={self.town_grid} junctions per side is not allowed; use 3..12")
        lo, hi = self.intersection_spacing_m
        if not 60.0 <= lo <= hi:
            raise ConfigError(f"scenario.intersection_spacing_m={self.intersection_spacing_m} is not allowed; use 60 <= low <= high")


@dataclass(frozen=True)
class RewardConfig:
    """Weights of the named reward terms reported in ``info["reward_terms"]``."""

    progress_per_m: float = 0.05  # per metre of route progress
    speed: float = 0.02  # per step, for driving near the speed limit
    lane_centre: float = 0.02  # per step, for staying near the lane centre
    collision: float = -10.0  # once, on a collision
    off_road: float = -10.0  # once, on leaving the road
    solid_line: float = -1.0  # per crossing of a solid line
    red_light: float = -5.0  # per red light run
    goal: float = 10.0  # once, on reaching the goal
    stop_sign: float = -5.0  # per stop sign run (navigation towns)
    wrong_lane: float = -2.0  # per entry into a lane of the opposite direction (navigation towns)
    off_route: float = -10.0  # once, on leaving the route (navigation towns; ends the episode)
    comfort: float = -0.01  # per step, times the squared change of action


@dataclass(frozen=True)
class EnvConfig:
    """The gymnasium env: world, camera, randomisation, timing and reward."""

    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    randomization: RandomizationConfig = field(default_factory=RandomizationConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    render_camera: bool = True  # False: no pixels, labels only (much faster)
    dense_labels: bool = True  # with the camera on: masks, depth and 2D boxes in info["ground_truth"]
    control_hz: float = 20.0  # policy steps per simulated second [Hz]
    physics_substeps: int = 2  # ego integration sub-steps per control step
    max_episode_s: float | None = None  # time limit [s]; None: route length / (0.25 * speed limit) + 30
    hud_scale: int = 2  # render(): upscale factor of the camera view with the HUD

    def __post_init__(self) -> None:
        check_range("control_hz", self.control_hz, 1.0, 200.0)
        if not 1 <= self.physics_substeps <= 20:
            raise ConfigError(f"physics_substeps={self.physics_substeps} is not allowed; use 1..20")
        if self.max_episode_s is not None:
            check_range("max_episode_s", self.max_episode_s, 1.0, 36000.0)
        if not 1 <= self.hud_scale <= 4:
            raise ConfigError(f"hud_scale={self.hud_scale} is not allowed; use 1..4")
