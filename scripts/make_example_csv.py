"""Write the example CSV files in ``data/`` (synthetic, seeded: reruns give the same bytes).

    python scripts/make_example_csv.py            # writes data/*.csv

penguins_like.csv   classification, string target ``species`` (3 classes), 4 features
houses_like.csv     regression, numeric target ``price_k``, 5 features
spirals.csv         classification, integer target ``label`` 0/1, 2 features
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "data"


def penguins(rng, n_per_species=(110, 60, 90)):
    """Bill length/depth, flipper length and body mass for three made-up species.

    Means and spreads are loosely modelled on the Palmer penguins, so the classes overlap
    a little in each single feature but separate well together.
    """
    species = {
        #            bill_len  bill_dep  flipper  mass     (means; std below)
        "Adelie":    (38.8,    18.3,     190.0,   3700.0),
        "Chinstrap": (48.8,    18.4,     196.0,   3730.0),
        "Gentoo":    (47.5,    15.0,     217.0,   5080.0),
    }
    std = np.array([2.6, 1.2, 6.5, 450.0])
    rows = []
    for (name, mean), n in zip(species.items(), n_per_species):
        X = rng.normal(mean, std, size=(n, 4))
        for x in X:
            rows.append([f"{x[0]:.1f}", f"{x[1]:.1f}", f"{x[2]:.0f}", f"{x[3]:.0f}", name])
    rng.shuffle(rows)
    header = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "species"]
    return header, rows


def houses(rng, n=400):
    """Made-up house prices (thousands) from area, rooms, age, distance and garden."""
    area = rng.uniform(40, 220, n)
    rooms = np.clip(np.round(area / 30 + rng.normal(0, 0.8, n)), 1, 8)
    age = rng.uniform(0, 80, n)
    distance = rng.gamma(2.0, 4.0, n)
    garden = rng.integers(0, 2, n)
    price = (60 + 2.4 * area + 8 * rooms - 0.9 * age - 35 * np.log1p(distance)
             + 25 * garden + 0.004 * (area - 120) ** 2 + rng.normal(0, 20, n))
    header = ["area_m2", "rooms", "age_years", "distance_km", "garden", "price_k"]
    rows = [[f"{a:.0f}", f"{r:.0f}", f"{yrs:.0f}", f"{km:.2f}", f"{g}", f"{p:.1f}"]
            for a, r, yrs, km, g, p in zip(area, rooms, age, distance, garden, price)]
    return header, rows


def spirals(rng, n=400, turns=1.5, noise=0.15):
    """Two interleaved spirals: the classic problem a linear model cannot solve."""
    rows = []
    for label in (0, 1):
        t = np.sqrt(rng.uniform(0, 1, n // 2)) * turns * 2 * np.pi
        r = t / (turns * 2 * np.pi) * 3
        angle = t + label * np.pi
        x = r * np.cos(angle) + rng.normal(0, noise, n // 2)
        y = r * np.sin(angle) + rng.normal(0, noise, n // 2)
        rows += [[f"{a:.3f}", f"{b:.3f}", str(label)] for a, b in zip(x, y)]
    rng.shuffle(rows)
    return ["x", "y", "label"], rows


def write(name, header, rows):
    path = OUT / name
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"wrote {path} ({len(rows)} rows, {path.stat().st_size} bytes)")


def main():
    OUT.mkdir(exist_ok=True)
    write("penguins_like.csv", *penguins(np.random.default_rng(1)))
    write("houses_like.csv", *houses(np.random.default_rng(2)))
    write("spirals.csv", *spirals(np.random.default_rng(3)))


if __name__ == "__main__":
    main()
