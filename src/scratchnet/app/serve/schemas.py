"""The JSON shapes of the API, as pydantic models: FastAPI validates the answers against them
and publishes them in the OpenAPI description (``/docs``), so the docs say what is sent."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ClassScore(BaseModel):
    label: str = Field(description="class name")
    index: int = Field(description="class index, 0-based, in the model's class order")
    probability: float = Field(ge=0.0, le=1.0)


class Prediction(BaseModel):
    label: str = Field(description="the most probable class")
    top: list[ClassScore] = Field(description="the top_k classes, most probable first")
    probabilities: dict[str, float] = Field(description="every class's probability, in the "
                                            "model's class order; they sum to 1")
    input_png: str | None = Field(None, description="with explain: the 28 x 28 gray image the "
                                  "network sees, as a PNG data URL")
    saliency_png: str | None = Field(None, description="with explain: |d logit / d input| of "
                                     "the winning class, scaled to its maximum, as a 28 x 28 "
                                     "RGBA PNG data URL (opacity = magnitude)")


class ModelCard(BaseModel):
    preset: str | None = Field(description="the preset the model was trained with")
    architecture: list[str] = Field(description="the layers, in a few words each")
    parameters: int = Field(description="number of trained parameters")
    test_accuracy: float | None = Field(description="accuracy on the 10,000 test images")
    trained: str | None = Field(description="when training finished")
    epochs: int | None = Field(description="epochs trained")
    classes: list[str]
    input_shape: list[int]
    random_images: bool = Field(description="whether /api/random has test images")
    max_upload_bytes: int = Field(description="largest accepted image file")
    max_pixels: int = Field(description="largest accepted image, in pixels")


class RandomImage(BaseModel):
    index: int = Field(description="index in the Fashion-MNIST test set")
    label: str = Field(description="its true class")
    image: str = Field(description="the 28 x 28 image as a PNG data URL")


class Health(BaseModel):
    status: str = "ok"


class ErrorAnswer(BaseModel):
    error: str = Field(description="what is wrong and how to fix it, in one line")
