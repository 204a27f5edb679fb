"""Champion's retraining script, run by the command job of jobs/train-demand.json on Azure ML.

Uploaded as the job's code asset (this folder, versioned by the hash of its files). The flags are the ones the local
workspace understands, so the same job spec trains there (in-process) and on Azure (here):
  --task regression|classification  --target COL  [--features a,b]  --data PATH  [--test-size 0.2]  [--seed 42]
  [--max-steps N]  --model-output PATH
Held-out metrics are logged to the run's MLflow tracking store (regression: rmse, mae, r2; classification: accuracy,
precision, recall, f1 or f1_macro); the model is saved as an MLflow model with its signature, so it deploys without
a scoring script.
"""

import argparse
import glob
import os

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import (accuracy_score, f1_score, mean_absolute_error, mean_squared_error, precision_score,
                             r2_score, recall_score)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def read_table(path):
    """A uri_file input is one CSV or JSON file; a uri_folder input is a folder of them with the same columns."""
    files = sorted(glob.glob(os.path.join(path, "**", "*.csv"), recursive=True)
                   + glob.glob(os.path.join(path, "**", "*.json"), recursive=True)) if os.path.isdir(path) else [path]
    if not files:
        raise SystemExit(f"no .csv or .json file under {path}")
    return pd.concat([pd.read_json(f) if f.endswith(".json") else pd.read_csv(f) for f in files], ignore_index=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", required=True, choices=["regression", "classification"])
    parser.add_argument("--target", required=True)
    parser.add_argument("--features")
    parser.add_argument("--data", required=True)
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-steps", type=int, default=600)
    parser.add_argument("--model-output", required=True)
    args = parser.parse_args()

    table = read_table(args.data)
    features = args.features.split(",") if args.features else [
        c for c in table.columns if c != args.target and pd.api.types.is_numeric_dtype(table[c])]
    x, y = table[features].astype("float64"), table[args.target]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=args.test_size, random_state=args.seed)

    if args.task == "regression":
        model = LinearRegression().fit(x_train, y_train)
        predicted = model.predict(x_test)
        metrics = {"rmse": mean_squared_error(y_test, predicted) ** 0.5, "mae": mean_absolute_error(y_test, predicted),
                   "r2": r2_score(y_test, predicted)}
    else:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=args.max_steps)).fit(x_train, y_train)
        predicted = model.predict(x_test)
        metrics = {"accuracy": accuracy_score(y_test, predicted)}
        if y.nunique() == 2:
            metrics.update(precision=precision_score(y_test, predicted, pos_label=model.classes_[1]),
                           recall=recall_score(y_test, predicted, pos_label=model.classes_[1]),
                           f1=f1_score(y_test, predicted, pos_label=model.classes_[1]))
        else:
            metrics["f1_macro"] = f1_score(y_test, predicted, average="macro")

    mlflow.log_metrics(metrics)
    mlflow.sklearn.save_model(model, args.model_output, signature=infer_signature(x_train, model.predict(x_train)))


if __name__ == "__main__":
    main()
