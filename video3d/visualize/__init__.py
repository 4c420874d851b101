"""Pictures of what a model sees and looks at: Grad-CAM for clips, the clip browser."""
