/**
 * Settings and policies are read when the worker starts, so a bad one stops the app at once with the setting's
 * name and the path of the bad field, instead of registering functions that would all fail.
 */
import { app } from '@azure/functions';
import { getApp } from '../lib/app';

app.hook.appStart(() => {
  getApp();
});
