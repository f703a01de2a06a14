"""The evaluation report: one self-contained HTML file, plus JSON and CSV beside it."""

from recsys.reporting.content import GalleryItem, ShopperGallery, SimilarGallery, report_data
from recsys.reporting.page import write_report
from recsys.reporting.trends import head_attire_trends

__all__ = [
    "GalleryItem",
    "ShopperGallery",
    "SimilarGallery",
    "head_attire_trends",
    "report_data",
    "write_report",
]
