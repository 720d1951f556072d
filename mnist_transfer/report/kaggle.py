"""Kaggle's "Digit Recognizer" submission format, written by evaluate and by predict."""

import numpy as np
import pandas as pd


def submission(image_ids: list[int] | np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """ImageId (from 1) and Label, one row per digit."""
    return pd.DataFrame({"ImageId": image_ids, "Label": labels})
