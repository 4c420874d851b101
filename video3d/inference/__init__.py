"""Using a trained model: sliding windows over long videos, exported-model runners, export."""
