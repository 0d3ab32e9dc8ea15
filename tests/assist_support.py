"""A KTP rendered with Pillow and a Debian font, in the card's layout, for the assist tests."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

FONT_DIRS = ("/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/dejavu")
FONT_FILES = {
    "regular": ("LiberationSans-Regular.ttf", "DejaVuSans.ttf"),
    "bold": ("LiberationSans-Bold.ttf", "DejaVuSans-Bold.ttf"),
}


def font(weight: str, size: int) -> ImageFont.FreeTypeFont:
    for name in FONT_FILES[weight]:
        for directory in FONT_DIRS:
            path = Path(directory) / name
            if path.exists():
                return ImageFont.truetype(str(path), size)
    raise FileNotFoundError("no Liberation or DejaVu font (Debian fonts-liberation / fonts-dejavu)")


@dataclass(frozen=True)
class Card:
    nik: str = "3204095708900003"
    name: str = "SITI NURHALIZA"
    birth: str = "BANDUNG, 17-08-1990"
    sex: str = "PEREMPUAN"
    province: str = "JAWA BARAT"
    regency: str = "KABUPATEN BANDUNG"


def render_ktp(card: Card, face: Image.Image | None = None, width: int = 1000) -> Image.Image:
    """The card (85.6 x 54 mm) at ``width`` pixels: header, NIK, fields on the left, photo right."""
    w, h = 856, 540
    img = Image.new("RGB", (w, h), (186, 214, 235))
    draw = ImageDraw.Draw(img)
    for y in range(h):  # the card's pale gradient
        shade = int(20 * y / h)
        draw.line([(0, y), (w, y)], fill=(186 + shade // 2, 214 + shade // 3, 235))
    head = font("bold", 30)
    for text, y in ((f"PROVINSI {card.province}", 18), (card.regency, 56)):
        tw = draw.textlength(text, font=head)
        draw.text(((w - tw) / 2, y), text, fill=(0, 0, 0), font=head)
    draw.text((28, 108), "NIK", fill=(0, 0, 0), font=font("bold", 34))
    draw.text((150, 108), ":", fill=(0, 0, 0), font=font("bold", 34))
    draw.text((172, 106), card.nik, fill=(0, 0, 0), font=font("bold", 38))
    rows = [
        ("Nama", card.name),
        ("Tempat/Tgl Lahir", card.birth),
        ("Jenis Kelamin", f"{card.sex}        Gol. Darah : O"),
        ("Alamat", "JL. MERDEKA NO. 10"),
        ("     RT/RW", "001/002"),
        ("     Kel/Desa", "CIBIRU"),
        ("     Kecamatan", "CILEUNYI"),
        ("Agama", "ISLAM"),
        ("Status Perkawinan", "KAWIN"),
        ("Pekerjaan", "KARYAWAN SWASTA"),
        ("Kewarganegaraan", "WNI"),
        ("Berlaku Hingga", "SEUMUR HIDUP"),
    ]
    small = font("regular", 20)
    for i, (label, value) in enumerate(rows):
        y = 165 + i * 29
        draw.text((28, y), label, fill=(0, 0, 0), font=small)
        draw.text((235, y), ":", fill=(0, 0, 0), font=small)
        draw.text((250, y), value, fill=(0, 0, 0), font=small)
    box = (640, 150, 820, 390)
    if face is not None:
        img.paste(face.convert("RGB").resize((box[2] - box[0], box[3] - box[1])), box[:2])
    else:
        draw.rectangle(box, fill=(200, 60, 60))
    return img.resize((width, round(width * h / w)), Image.Resampling.LANCZOS)


@dataclass(frozen=True)
class Variant:
    angle: float
    width: int
    blur: float
    quality: int
    brightness: float
    shadow: float


def variants(n: int, seed: int = 15) -> list[Variant]:
    """``n`` photos of a card: rotated within ±8°, 700-1400 px wide, blurred, JPEG'd, lit."""
    rnd = random.Random(seed)
    return [
        Variant(
            angle=rnd.uniform(-8, 8),
            width=rnd.randrange(700, 1400),
            blur=rnd.uniform(0, 1.2),
            quality=rnd.randrange(35, 95),
            brightness=rnd.uniform(0.7, 1.25),
            shadow=rnd.uniform(0, 0.35),
        )
        for _ in range(n)
    ]


def photograph(card: Image.Image, v: Variant) -> bytes:
    """The card on a desk, as a phone would take it, encoded as JPEG."""
    scaled = card.resize(
        (v.width, round(v.width * card.height / card.width)), Image.Resampling.LANCZOS
    )
    rotated = scaled.rotate(
        v.angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(92, 70, 52)
    )
    desk = Image.new("RGB", (rotated.width + 120, rotated.height + 120), (92, 70, 52))
    desk.paste(rotated, (60, 60))
    lit = ImageEnhance.Brightness(desk).enhance(v.brightness)
    if v.shadow:
        # A shadow across one side: darker to the right.
        ramp = Image.linear_gradient("L").rotate(90).resize(lit.size)
        dark = ImageEnhance.Brightness(lit).enhance(1 - v.shadow)
        lit = Image.composite(dark, lit, ramp)
    if v.blur:
        lit = lit.filter(ImageFilter.GaussianBlur(v.blur))
    out = io.BytesIO()
    lit.save(out, format="JPEG", quality=v.quality)
    return out.getvalue()
